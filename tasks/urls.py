from config.api.routers import optional_slash
from tasks.views import (
    JobBatchView,
    JobCancelView,
    JobDeadLettersView,
    JobDetailView,
    JobListCreateView,
    JobRequeueView,
    JobResultView,
)
from tasks.views_ai import AiChatView
from tasks.views_webhooks import (
    WebhookDeliveriesView,
    WebhookDetailView,
    WebhookListCreateView,
    WebhookTestView,
)

urlpatterns = [
    optional_slash("jobs", JobListCreateView.as_view(), name="jobs"),
    optional_slash("jobs/batch", JobBatchView.as_view(), name="jobs-batch"),
    optional_slash("jobs/dead-letters", JobDeadLettersView.as_view(), name="jobs-dead-letters"),
    optional_slash("jobs/<job_id>", JobDetailView.as_view(), name="job"),
    optional_slash("jobs/<job_id>/cancel", JobCancelView.as_view(), name="job-cancel"),
    optional_slash("jobs/<job_id>/result", JobResultView.as_view(), name="job-result"),
    optional_slash("jobs/<job_id>/requeue", JobRequeueView.as_view(), name="job-requeue"),
    optional_slash("ai/chat", AiChatView.as_view(), name="ai-chat"),
    optional_slash("webhooks", WebhookListCreateView.as_view(), name="webhooks"),
    optional_slash("webhooks/<endpoint_id>", WebhookDetailView.as_view(), name="webhook"),
    optional_slash(
        "webhooks/<endpoint_id>/deliveries",
        WebhookDeliveriesView.as_view(),
        name="webhook-deliveries",
    ),
    optional_slash("webhooks/<endpoint_id>/test", WebhookTestView.as_view(), name="webhook-test"),
]
