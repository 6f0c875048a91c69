from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Makes `config` an app so it can hold project-wide management commands and checks."""

    name = "config"
    label = "config"
    verbose_name = "Agora configuration"

    def ready(self) -> None:
        from django.core import checks

        from config.api import openapi  # noqa: F401 - registers the OpenAPI filter extension
        from config.http.rate_limits import check_rate_limit_settings

        checks.register(check_rate_limit_settings)
