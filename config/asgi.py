"""ASGI entry point: HTTP goes to Django behind the body-size guard, WebSockets to realtime.

HTTP runs through Django's WSGI handler on a pool of `HTTP_THREADS` threads per process
(config/threaded_http.py says why: measured, it answers several times as many requests as
Django's ASGI handler for our synchronous views), so one server serves both on one port.
Cached shared reads (anonymous, or with a bearer token whose login is cached) are answered
before Django (config/http/public_cache.py).
"""

from config.env import configure_settings_module, env

configure_settings_module()

from django.core.wsgi import get_wsgi_application  # noqa: E402

django_wsgi_application = get_wsgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from accounts.fast_path import CachedBearerLogins  # noqa: E402
from config.http.body_limit import BodySizeLimitMiddleware  # noqa: E402
from config.http.public_cache import PublicResponseCache  # noqa: E402
from config.http.threaded_wsgi import ThreadedWSGIHandler  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402
from tasks.embedded import start_embedded_worker_if_enabled  # noqa: E402

HTTP_THREADS = env.int("HTTP_THREADS", default=8)

application = ProtocolTypeRouter(
    {
        "http": PublicResponseCache(
            BodySizeLimitMiddleware(
                ThreadedWSGIHandler(django_wsgi_application, threads=HTTP_THREADS)
            ),
            logins=CachedBearerLogins(),
        ),
        "websocket": websocket_application,
    }
)

start_embedded_worker_if_enabled()
