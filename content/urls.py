from config.api.routers import OptionalSlashRouter
from content.views.comments import CommentViewSet
from content.views.posts import PostViewSet

router = OptionalSlashRouter()
router.register("posts", PostViewSet, basename="post")
router.register("comments", CommentViewSet, basename="comment")

urlpatterns = router.urls
