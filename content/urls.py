from config.api.routers import OptionalSlashRouter
from content.views.comments import CommentViewSet
from content.views.posts import PostViewSet
from content.views.uploads import UploadViewSet

router = OptionalSlashRouter()
router.register("posts", PostViewSet, basename="post")
router.register("comments", CommentViewSet, basename="comment")
router.register("uploads", UploadViewSet, basename="upload")

urlpatterns = router.urls
