from config.api.routers import optional_slash
from tasks.views import DemoJobView

urlpatterns = [
    optional_slash("demo/jobs", DemoJobView.as_view(), name="demo-jobs"),
]
