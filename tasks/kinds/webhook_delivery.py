"""`webhook_delivery`: one event sent to one webhook endpoint (tasks.services.webhooks).

The server creates these jobs (clients cannot ask for the kind); its job is the delivery's
attempts: retried on WEBHOOK_RETRY_SCHEDULE (seconds, minutes, then hours), then dead, in the
dead letters and requeued like any job. Outside its owner's job concurrency: an endpoint's
deliveries never hold up its owner's exports.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.core.errors import ValidationFailed
from tasks.kinds import JobFailed, JobKind, JobRetry
from tasks.runner import JobContext


def clean(params: dict[str, Any], actor: Any) -> dict[str, Any]:
    raise ValidationFailed({"kind": ["Webhook deliveries are created by the server."]})


def run(context: JobContext) -> dict[str, Any]:
    from tasks.services.webhooks import webhook_delivery_attempt

    delivery_id = context.params["delivery"]
    outcome = webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.succeeded:
        return {"delivery": delivery_id, "response_status": outcome.response_status}
    if outcome.final:
        raise JobFailed(outcome.message)
    raise JobRetry(outcome.message)


def retry_schedule() -> list[float]:
    return list(settings.WEBHOOK_RETRY_SCHEDULE)


KIND = JobKind(
    name="webhook_delivery",
    clean=clean,
    run=run,
    retry_schedule=retry_schedule,
    requestable=False,
    owner_capped=False,
)
