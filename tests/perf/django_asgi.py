"""The ASGI application as it was before HTTP moved to the threaded WSGI path: Django's own
ASGI handler for HTTP. Kept only so `tests.perf.servers` can measure the difference again."""

from config.env import configure_settings_module

configure_settings_module()

from django.core.asgi import get_asgi_application  # noqa: E402

django_http_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from config.http.body_limit import BodySizeLimitMiddleware  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimitMiddleware(django_http_application),
        "websocket": websocket_application,
    }
)
