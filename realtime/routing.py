from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import re_path

from realtime.auth import CredentialsMiddleware
from realtime.consumers import RealtimeConsumer

websocket_urlpatterns = [
    re_path(r"^ws/v1/?$", RealtimeConsumer.as_asgi()),
]

# The session middleware runs first; a ticket or token, when presented, takes precedence.
websocket_application = AuthMiddlewareStack(CredentialsMiddleware(URLRouter(websocket_urlpatterns)))
