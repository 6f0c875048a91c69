from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Makes `config` an app only so it can hold project-wide management commands."""

    name = "config"
    label = "config"
    verbose_name = "Agora configuration"
