from audits import views
from config.api.routers import optional_slash

urlpatterns = [
    optional_slash("audits", views.AuditRecordListCreateView.as_view(), name="audits"),
    optional_slash(
        "audits/<record_id>",
        views.AuditRecordDetailView.as_view(),
        name="audit-detail",
    ),
]
