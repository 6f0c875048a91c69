"""Error reporting to Sentry, on when SENTRY_DSN is set (config.settings.base calls this).

What is reported:
- Django: unhandled exceptions of requests (the 500s; the client gets only the request id).
- Celery: exceptions that escape a task (maintenance tasks, emails).
- Logging: every record at ERROR or above is an event, the lines below it breadcrumbs. A job
  attempt that fails is such a record (`agora.tasks` "job attempt failed", with its traceback):
  the runner catches the exception to retry the job, so Celery never sees it. The runner tags
  the scope of each attempt (`job.id`, `job.kind`, `job.priority`, the `job` context), so the
  event says which job failed (tasks/runner.py).
"""

from __future__ import annotations

import logging


def sentry_init(*, dsn: str, environment: str, release: str, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        # No personal data: with neither send_default_pii (deprecated in sentry-sdk 2.75) nor
        # data_collection set, the SDK collects none and scrubs its denylist (EventScrubber).
        traces_sample_rate=traces_sample_rate,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    )
