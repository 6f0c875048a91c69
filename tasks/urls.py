from django.urls import re_path

from tasks.views import DemoJobView

urlpatterns = [
    re_path(r"^demo/jobs/?$", DemoJobView.as_view(), name="demo-jobs"),
]
