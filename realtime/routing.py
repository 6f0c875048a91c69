from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import re_path

from realtime.consumers import AgoraConsumer

websocket_urlpatterns = [
    re_path(r"^ws/v1/?$", AgoraConsumer.as_asgi()),
]

# Session auth for now; tickets and bearer tokens join it with the accounts work.
websocket_application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
