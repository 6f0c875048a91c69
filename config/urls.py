"""Every path is served with and without its trailing slash, never through a redirect."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from config import views

api_v1_patterns = [
    path("", include("accounts.urls")),
    path("", include("audits.urls")),
    path("", include("content.urls")),
    path("", include("tasks.urls")),
]

urlpatterns = [
    path("", views.RootView.as_view(), name="root"),
    re_path(r"^health/?$", views.HealthView.as_view(), name="health"),
    re_path(r"^health/db/?$", views.HealthDatabaseView.as_view(), name="health-db"),
    re_path(r"^health/ready/?$", views.HealthReadyView.as_view(), name="health-ready"),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    re_path(r"^redoc/?$", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    re_path(r"^api/v1/", include(api_v1_patterns)),
    path("admin/", admin.site.urls),
    re_path(r"^(?:api|health)(?:/.*)?$", views.api_not_found),
]

handler400 = "config.http.envelope.handler400"
handler403 = "config.http.envelope.handler403"
handler404 = "config.http.envelope.handler404"
handler500 = "config.http.envelope.handler500"
