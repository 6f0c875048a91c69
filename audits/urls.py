from django.urls import re_path

from audits import views

urlpatterns = [
    re_path(r"^audits/?$", views.AuditRecordListCreateView.as_view(), name="audits"),
    re_path(
        r"^audits/(?P<record_id>[^/]+)/?$",
        views.AuditRecordDetailView.as_view(),
        name="audit-detail",
    ),
]
