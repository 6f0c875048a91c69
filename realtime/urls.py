from config.api.routers import optional_slash
from realtime.views import NotificationListView, NotificationReadView

urlpatterns = [
    optional_slash("notifications", NotificationListView.as_view(), name="notifications"),
    optional_slash("notifications/read", NotificationReadView.as_view(), name="notifications-read"),
]
