"""`/api/v1/posts/…`: CRUD, soft delete and restore, comments of a post, bulk, export, stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role, is_admin
from accounts.permissions import IsMember
from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses
from config.api.ordering import StrictOrderingFilter
from config.api.pagination import OffsetPagination
from config.http.public_cache import EVERYONE, Callers, remember_public_response
from content import read_cache, selectors, services
from content.exports import export_response
from content.filters import (
    POST_ORDERING,
    POST_ORDERING_FIELDS,
    CommentFilterSet,
    FilterBackend,
    PostFilterSet,
    filtered,
)
from content.models import Post
from content.representations import comment_representation, post_representation
from content.selectors.stats import post_stats
from content.serializers import (
    CommentCreateInputSerializer,
    CommentOutputSerializer,
    ExportQuerySerializer,
    PostBulkCreateInputSerializer,
    PostBulkDeleteInputSerializer,
    PostBulkDeleteOutputSerializer,
    PostBulkInputSerializer,
    PostBulkOutputSerializer,
    PostBulkUpdateInputSerializer,
    PostBulkUpdateItemSerializer,
    PostExportItemOutputSerializer,
    PostInputSerializer,
    PostOutputSerializer,
    PostStatsOutputSerializer,
    StatsQuerySerializer,
)
from content.services.bulk import bulk_size_check
from content.views.common import found, is_default_first_page, is_unfiltered

TAG = "posts"
# `posts/{id}/comments` filters with CommentFilterSet itself, so drf-spectacular sees none.
COMMENT_FILTER_PARAMETERS = [
    OpenApiParameter("post", OpenApiTypes.UUID, description="Only comments on this post."),
    OpenApiParameter("author", OpenApiTypes.UUID, description="Only comments by this user."),
    OpenApiParameter("parent", OpenApiTypes.UUID, description="Only replies to this comment."),
    OpenApiParameter("top_level", bool, description="`true`: only comments that are no reply."),
    *(
        OpenApiParameter(
            name,
            {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]},
            description=f"Created {when} this date (UTC) or date-time, inclusive.",
        )
        for name, when in (("created_after", "on or after"), ("created_before", "on or before"))
    ),
]
POST_EXAMPLE = {
    "title": "Grüße aus Köln — O'Brien's notes",
    "body": "First post 🚀",
    "status": "published",
    "tags": ["travel", "köln"],
}


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List posts",
        description=(
            "Published and archived posts, plus the caller's own drafts (admins: all). "
            "Offset pagination, or cursor pagination with `?cursor=` or `?pagination=cursor`. "
            "`search` is full-text over title and body, ranked on PostgreSQL when no "
            "`ordering` is given."
        ),
        responses={200: PostOutputSerializer(many=True), **error_responses(400)},
    ),
    retrieve=extend_schema(
        tags=[TAG],
        summary="A post",
        responses={200: PostOutputSerializer, **error_responses(404)},
    ),
    create=extend_schema(
        tags=[TAG],
        summary="Create a post",
        request=PostInputSerializer,
        responses={201: PostOutputSerializer, **error_responses(400, 401, 403, 409, 413, 415)},
        examples=[OpenApiExample("Post", request_only=True, value=POST_EXAMPLE)],
    ),
    update=extend_schema(
        tags=[TAG],
        summary="Replace a post's fields (author or admin)",
        request=PostInputSerializer,
        responses={200: PostOutputSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
    ),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Change some of a post's fields (author or admin)",
        request=PostInputSerializer,
        responses={200: PostOutputSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
        examples=[OpenApiExample("Publish", request_only=True, value={"status": "published"})],
    ),
    destroy=extend_schema(
        tags=[TAG],
        summary="Soft-delete a post (author or admin)",
        description="The post answers 404 to all but admins afterwards; `restore` undoes it.",
        responses={204: None, **error_responses(401, 403, 404)},
    ),
)
class PostViewSet(IdempotentMixin, viewsets.GenericViewSet):
    permission_classes = [IsMember]
    serializer_class = PostOutputSerializer
    filter_backends = [FilterBackend, StrictOrderingFilter]
    filterset_class = PostFilterSet
    ordering_fields = POST_ORDERING_FIELDS
    ordering = POST_ORDERING
    lookup_value_regex = "[^/]+"

    # Set while computing the shared first page of the feed: as an anonymous caller sees it.
    shared_page = False

    def get_queryset(self) -> Any:
        return selectors.post_list(actor=None if self.shared_page else self.request.user)

    def filter_queryset(self, queryset: Any) -> Any:
        queryset = super().filter_queryset(queryset)
        if not self.count_with_page(self.request):
            return queryset
        queryset = selectors.search_page_shaped(queryset)
        if "ordering" not in self.request.query_params:
            queryset = queryset.order_by("-search_rank", "-created_at", "-id")
        return queryset

    def count_with_page(self, request: Request) -> bool:
        """A ranked search counts its matches in the page's own query (config.api.pagination):
        a separate COUNT would run the whole search again."""
        return bool(request.query_params.get("search", "").strip()) and selectors.search_is_ranked()

    def get_list_count(self, queryset: Any) -> int:
        """The paginator's count: cached for unfiltered lists, counted otherwise."""
        if self.action == "list" and is_unfiltered(self.request):
            actor = None if self.shared_page else self.request.user
            return selectors.post_count_unfiltered(actor=actor)
        return queryset.count()

    def list(self, request: Request) -> Response:
        if is_default_first_page(request, OffsetPagination.default_limit):
            if _sees_only_public_posts(request.user):
                data, hit, validators = read_cache.feed_first_page_cached(
                    request.get_host(), self._shared_page_data
                )
                response = Response(data, headers={"X-Cache": "hit" if hit else "miss"})
                return _public(response, validators, FEED_CALLERS)
            if not is_admin(request.user):
                data, validators = self._member_first_page_data(request)
                response = Response(data, headers={"X-Cache": "miss"})
                return _public(response, validators, Callers.only(str(request.user.pk)))
        return Response(self._list_page_data())

    def _member_first_page_data(self, request: Request) -> tuple[dict[str, Any], dict[str, int]]:
        """The default first page of a member with live drafts, without reading the feed again:
        the shared page merged with their own drafts newer than its last post, in the list's
        order (-created_at, -id); the shared page's posts read alike for every caller. Only
        drafts that sort before that last post can be on this page, and usually there are none
        (one indexed query that finds nothing).

        Also returns the counters it is valid under: the feed's (every post write moves it,
        their drafts' included) and their author fields' (read before the drafts). The fast
        path answers the member's next request for this URL from it (their own entry)."""
        authors = read_cache.author_validators(request.user.pk)
        shared, _hit, validators = read_cache.feed_first_page_cached(
            request.get_host(), self._shared_page_data
        )
        limit = OffsetPagination.default_limit
        last = shared["results"][limit - 1] if len(shared["results"]) >= limit else None
        after = (_parsed_time(last["created_at"]), UUID(last["id"])) if last else None
        drafts = selectors.own_drafts_first(actor=request.user, after=after, limit=limit)
        merged = sorted(
            [*shared["results"], *(post_representation(post) for post in drafts)],
            key=lambda item: (_parsed_time(item["created_at"]), UUID(item["id"])),
            reverse=True,
        )[:limit]
        # Offset pages: is_default_first_page admits no other pagination parameter.
        paginator = self.paginator.style
        paginator.request = request
        paginator.limit = limit
        paginator.offset = 0
        paginator.count = selectors.post_count_unfiltered(actor=request.user)
        return paginator.get_paginated_response(merged).data, {**validators, **authors}

    def _shared_page_data(self) -> dict[str, Any]:
        self.shared_page = True
        try:
            return self._list_page_data()
        finally:
            self.shared_page = False

    def _list_page_data(self) -> dict[str, Any]:
        queryset = self.filter_queryset(self.get_queryset())
        page = selectors.post_relations_attach(self.paginate_queryset(queryset))
        return self.get_paginated_response([post_representation(p) for p in page]).data

    def retrieve(self, request: Request, pk: str) -> Response:
        post_id = found(selectors.parse_uuid(pk))
        data, hit, validators = selectors.public_post_detail(post_id=post_id)
        if data is not None:
            # A public post reads the same for every caller, admins included.
            response = Response(data, headers={"X-Cache": "hit" if hit else "miss"})
            return _public(response, validators, EVERYONE)
        post = found(
            selectors.post_get(
                actor=request.user,
                post_id=post_id,
                include_deleted=is_admin(request.user),
            )
        )
        return Response(post_representation(post))

    def create(self, request: Request) -> Response:
        serializer = PostInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        post = services.post_create(actor=request.user, **serializer.validated_data)
        return Response(post_representation(post), status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=False)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=True)

    def _update(self, request: Request, pk: str, *, partial: bool) -> Response:
        post = self._visible_post(pk)
        serializer = PostInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        post = services.post_update(actor=request.user, post=post, **serializer.validated_data)
        return Response(post_representation(post))

    def destroy(self, request: Request, pk: str) -> Response:
        services.post_delete(actor=request.user, post=self._visible_post(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=[TAG],
        summary="Restore a soft-deleted post (author or admin)",
        request=None,
        responses={200: PostOutputSerializer, **error_responses(401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str) -> Response:
        post = found(selectors.post_get(actor=request.user, post_id=pk, include_deleted=True))
        post = services.post_restore(actor=request.user, post=post)
        return Response(post_representation(post))

    @extend_schema(
        tags=[TAG],
        summary="Create several posts, all or nothing",
        description=(
            "At most 500 items. Any bad item → 400 with "
            '`details: {"items": {"<index>": {field: [messages]}}}` and nothing written.'
        ),
        request=PostBulkCreateInputSerializer,
        responses={201: PostBulkOutputSerializer, **error_responses(400, 401, 403, 413, 415)},
        examples=[OpenApiExample("Two posts", request_only=True, value={"items": [POST_EXAMPLE]})],
        methods=["POST"],
    )
    @extend_schema(
        tags=[TAG],
        summary="Change several posts, all or nothing",
        description=(
            "Items are `{id, …fields}`. A post the caller may not see or change is a bad item "
            '(`{"id": ["Not found."]}`).'
        ),
        request=PostBulkUpdateInputSerializer,
        responses={200: PostBulkOutputSerializer, **error_responses(400, 401, 403, 413, 415)},
        methods=["PATCH"],
    )
    @action(detail=False, methods=["post", "patch"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        creating = request.method == "POST"
        item_serializer = PostInputSerializer if creating else PostBulkUpdateItemSerializer
        items = _bulk_items(request.data, item_serializer)
        if creating:
            posts = services.posts_bulk_create(actor=request.user, items=items)
        else:
            posts = services.posts_bulk_update(actor=request.user, items=items)
        ids = [post.pk for post in posts]
        fresh = selectors.post_relations_attach(
            list(Post.objects.filter(pk__in=ids).select_related("author"))
        )
        by_id = {post.pk: post for post in fresh}
        results = [post_representation(by_id[post_id]) for post_id in ids]
        code = status.HTTP_201_CREATED if creating else status.HTTP_200_OK
        return Response({"results": results}, status=code)

    @extend_schema(
        tags=[TAG],
        summary="Soft-delete several posts, all or nothing",
        request=PostBulkDeleteInputSerializer,
        responses={200: PostBulkDeleteOutputSerializer, **error_responses(400, 401, 403, 415)},
        examples=[OpenApiExample("Ids", request_only=True, value={"ids": ["0193…"]})],
    )
    @action(detail=False, methods=["post"], url_path="bulk-delete")
    def bulk_delete(self, request: Request) -> Response:
        serializer = PostBulkDeleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deleted = services.posts_bulk_delete(
            actor=request.user, ids=serializer.validated_data["ids"]
        )
        return Response({"deleted": deleted})

    @extend_schema(
        tags=[TAG],
        summary="Download the filtered list (CSV, JSON or XLSX)",
        description=(
            "Takes every list filter and `ordering`. Streamed; only what the caller may read. "
            "JSON items are the list's posts without their attachments. "
            "Cells starting with = + - @, tab or CR are prefixed with `'`."
        ),
        parameters=[ExportQuerySerializer],
        responses={
            (200, "text/csv"): bytes,
            (200, "application/json"): PostExportItemOutputSerializer(many=True),
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): bytes,
            **error_responses(400),
        },
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request: Request) -> HttpResponseBase:
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        posts = self.filter_queryset(self.get_queryset())
        return export_response(posts, file_format=query.validated_data["file_format"])

    @extend_schema(
        tags=[TAG],
        summary="Statistics over published posts",
        parameters=[StatsQuerySerializer],
        responses={200: PostStatsOutputSerializer, **error_responses(400, 401)},
    )
    @action(detail=False, methods=["get"], permission_classes=[IsAuthenticated], filter_backends=[])
    def stats(self, request: Request) -> Response:
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(post_stats(**query.validated_data))

    @extend_schema(
        tags=[TAG],
        summary="Comments of a post",
        parameters=COMMENT_FILTER_PARAMETERS,
        responses={200: CommentOutputSerializer(many=True), **error_responses(400, 404)},
        methods=["GET"],
    )
    @extend_schema(
        tags=[TAG],
        summary="Comment on a post",
        description="`parent` makes it a reply. Archived posts take no new comments (403).",
        request=CommentCreateInputSerializer,
        responses={201: CommentOutputSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
        examples=[OpenApiExample("Comment", request_only=True, value={"body": "Schön! 👍"})],
        methods=["POST"],
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def comments(self, request: Request, pk: str) -> Response:
        """Oldest first, so a thread reads top to bottom; the `comments/` filters apply."""
        if request.method == "POST":
            return self._comment_create(request, pk)
        post = found(selectors.post_for_comments(actor=request.user, post_id=pk))
        comments = selectors.comment_list(actor=request.user).filter(post_id=post.pk)
        comments = filtered(CommentFilterSet, request, comments).order_by("created_at", "id")
        page = self.paginate_queryset(comments)
        return self.get_paginated_response([comment_representation(c) for c in page])

    def _comment_create(self, request: Request, pk: str) -> Response:
        """One query finds the post and the parent; an unknown post is a 404 before any 400."""
        serializer = CommentCreateInputSerializer(data=request.data)
        valid = serializer.is_valid()
        parent_id = serializer.validated_data.get("parent") if valid else None
        post, parent = found(
            selectors.post_for_comment_create(actor=request.user, post_id=pk, parent_id=parent_id)
        )
        if not valid:
            raise ValidationError(serializer.errors)
        if parent_id is not None and parent is None:
            raise ValidationError({"parent": ["Not a comment on this post."]})
        comment = services.comment_create(
            actor=request.user, post=post, body=serializer.validated_data["body"], parent=parent
        )
        return Response(comment_representation(comment), status=status.HTTP_201_CREATED)

    def _visible_post(self, pk: str) -> Post:
        return found(selectors.post_get(actor=self.request.user, post_id=pk))


# Who reads the feed's first page as anonymous clients do: members (not admins, who see every
# draft) with no live draft of their own. The fast path checks the same, from the cache.
FEED_CALLERS = Callers(
    excluded_roles=(Role.ADMIN.value,),
    zero_counts=((read_cache.drafts_count_key("{user_id}"), read_cache.FEED_VERSION_KEY),),
)


def _parsed_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _sees_only_public_posts(user: Any) -> bool:
    """Whether the post list shows `user` what it shows anonymous clients."""
    if not user.is_authenticated:
        return True
    return not is_admin(user) and selectors.own_drafts_count(actor=user) == 0


def _public(response: Response, validators: dict[str, int], callers: Callers) -> Response:
    """Let config.http.public_cache answer the next request for this URL before Django, for
    anonymous clients and `callers`."""
    remember_public_response(response, validators, callers)
    return response


def _bulk_items(data: Any, item_serializer: type) -> list[dict[str, Any]]:
    """Each item validated on its own; every bad one reported by its index."""
    envelope = PostBulkInputSerializer(data=data)
    envelope.is_valid(raise_exception=True)
    items = envelope.validated_data["items"]
    bulk_size_check(items)
    validated, errors = [], {}
    for index, item in enumerate(items):
        serializer = item_serializer(data=item, partial=item_serializer is not PostInputSerializer)
        if serializer.is_valid():
            validated.append(serializer.validated_data)
        else:
            errors[str(index)] = serializer.errors
    if errors:
        raise ValidationError({"items": errors})
    return validated
