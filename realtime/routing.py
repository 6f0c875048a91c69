from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import re_path

from realtime.auth import CredentialsMiddleware
from realtime.consumers import RAW_SEND_SCOPE_KEY, RealtimeConsumer

websocket_urlpatterns = [
    re_path(r"^ws/v1/?$", RealtimeConsumer.as_asgi()),
]


class RawSend:
    """Keeps the server's `send` in the scope, so the consumer's writer can skip the session
    middleware's per-frame wrapper once the handshake is done (measured: a third of the cost
    of a frame in a large room)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        return await self.app(dict(scope, **{RAW_SEND_SCOPE_KEY: send}), receive, send)


# The session middleware runs first; a ticket or token, when presented, takes precedence.
websocket_application = RawSend(
    AuthMiddlewareStack(CredentialsMiddleware(URLRouter(websocket_urlpatterns)))
)
