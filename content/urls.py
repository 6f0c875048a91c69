from rest_framework.routers import SimpleRouter

from content.views.comments import CommentViewSet
from content.views.posts import PostViewSet


class OptionalSlashRouter(SimpleRouter):
    """Every path is served with and without its trailing slash, never through a redirect."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("posts", PostViewSet, basename="post")
router.register("comments", CommentViewSet, basename="comment")

urlpatterns = router.urls
