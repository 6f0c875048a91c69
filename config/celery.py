"""The Celery app. Tasks carry the request id that enqueued them into their own logs."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from config.core.context import current_request_id, request_id_var
from config.env import configure_settings_module

configure_settings_module()

app = Celery("agora")
# The default in every thread, so `celery.current_app` (config.core.task_queue) is this app in
# the server's request threads too, not Celery's fallback.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

REQUEST_ID_HEADER = "agora_request_id"


@before_task_publish.connect
def _attach_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = current_request_id()


@task_prerun.connect
def _enter_request_context(task: Any = None, **_: Any) -> None:
    request_id_var.set(getattr(task.request, REQUEST_ID_HEADER, None) if task else None)


@task_postrun.connect
def _leave_request_context(**_: Any) -> None:
    request_id_var.set(None)
