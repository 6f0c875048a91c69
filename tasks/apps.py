from typing import Any

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Tasks"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from realtime.broadcast import broadcast_observe
        from tasks.models import WebhookEndpoint
        from tasks.services.webhooks import webhook_event_publish

        # Every published event may be one a webhook endpoint is subscribed to.
        broadcast_observe(webhook_event_publish)
        # Whatever writes an endpoint (services, admin, a cascade from its owner, fixtures)
        # moves the cached subscribed events on.
        post_save.connect(_subscriptions_changed, WebhookEndpoint, dispatch_uid="webhooks-saved")
        post_delete.connect(
            _subscriptions_changed, WebhookEndpoint, dispatch_uid="webhooks-deleted"
        )


def _subscriptions_changed(**kwargs: Any) -> None:
    from tasks.services.webhooks import webhook_subscriptions_changed

    webhook_subscriptions_changed()
