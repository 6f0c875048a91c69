"""ASGI entry point: HTTP goes to Django behind the body-size guard, WebSockets to realtime."""

from config.env import configure_settings_module

configure_settings_module()

from django.core.asgi import get_asgi_application  # noqa: E402

django_http_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from config.body_limit import BodySizeLimitMiddleware  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402
from tasks.embedded import start_embedded_worker_if_enabled  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimitMiddleware(django_http_application),
        "websocket": websocket_application,
    }
)

start_embedded_worker_if_enabled()
