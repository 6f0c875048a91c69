from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Tasks"

    def ready(self) -> None:
        from realtime.broadcast import broadcast_observe
        from tasks.services.webhooks import webhook_event_publish

        # Every published event may be one a webhook endpoint is subscribed to.
        broadcast_observe(webhook_event_publish)
