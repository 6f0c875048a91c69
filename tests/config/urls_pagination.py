"""The real URLconf plus post lists paginated and sorted the way the content lists will be."""

from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.urls import re_path
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny

from config.api.ordering import StrictOrderingFilter
from config.urls import urlpatterns as real_urlpatterns
from content.models import Post

POSTS_PATH = "/api/v1/test/posts"
COUNTED_POSTS_PATH = "/api/v1/test/counted-posts"
MODEL_ORDER_POSTS_PATH = "/api/v1/test/model-order-posts"
SUPPLIED_COUNT = 4321


class PostSerializer(serializers.ModelSerializer):
    class Meta:
        model = Post
        fields = ["id", "title", "comment_count", "created_at", "published_at"]


class PostListView(ListAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = PostSerializer
    filter_backends = [StrictOrderingFilter]
    ordering_fields = {
        "created_at": "created_at",
        "published_at": "published_at",
        "title": "title",
        "comment_count": "comment_count",
        "author": "author__username",
        "title_ci": Lower("title"),
    }
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Post]:
        return Post.objects.all()


class CountedPostListView(PostListView):
    def get_list_count(self, queryset: QuerySet[Any]) -> int:
        return SUPPLIED_COUNT


class ModelOrderPostListView(PostListView):
    """No ordering filter: the model's Meta.ordering decides."""

    filter_backends: list = []


urlpatterns = [
    re_path(r"^api/v1/test/posts/?$", PostListView.as_view()),
    re_path(r"^api/v1/test/counted-posts/?$", CountedPostListView.as_view()),
    re_path(r"^api/v1/test/model-order-posts/?$", ModelOrderPostListView.as_view()),
    *real_urlpatterns,
]
