"""The URLconf. Every path is served with and without its trailing slash (config.api.routers)."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from config import views
from config.api.routers import optional_slash
from realtime.pages import LivePageView

api_v1_patterns = [
    path("", include("accounts.urls")),
    path("", include("audits.urls")),
    path("", include("content.urls")),
    path("", include("realtime.urls")),
    path("", include("tasks.urls")),
]

urlpatterns = [
    path("", views.RootView.as_view(), name="root"),
    optional_slash("health", views.HealthView.as_view(), name="health"),
    optional_slash("health/db", views.HealthDatabaseView.as_view(), name="health-db"),
    optional_slash("health/ready", views.HealthReadyView.as_view(), name="health-ready"),
    optional_slash("api/schema", SpectacularAPIView.as_view(), name="schema"),
    optional_slash("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    optional_slash("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    re_path(r"^api/v1/", include(api_v1_patterns)),
    path("admin/", admin.site.urls),
    optional_slash("live", LivePageView.as_view(), name="live"),
    re_path(r"^(?:api|health)(?:/.*)?$", views.api_not_found),
]

handler400 = "config.http.envelope.handler400"
handler403 = "config.http.envelope.handler403"
handler404 = "config.http.envelope.handler404"
handler500 = "config.http.envelope.handler500"
