from django.urls import re_path

from accounts.views import api_keys, auth, sessions, users

ID_SEGMENT = r"(?P<{}>[^/]+)"

urlpatterns = [
    re_path(r"^auth/register/?$", auth.RegisterView.as_view(), name="auth-register"),
    re_path(r"^auth/verify-email/?$", auth.VerifyEmailView.as_view(), name="auth-verify-email"),
    re_path(r"^auth/token/?$", auth.TokenView.as_view(), name="auth-token"),
    re_path(r"^auth/token/refresh/?$", auth.TokenRefreshView.as_view(), name="auth-refresh"),
    re_path(r"^auth/logout/?$", auth.LogoutView.as_view(), name="auth-logout"),
    re_path(r"^auth/logout-all/?$", auth.LogoutAllView.as_view(), name="auth-logout-all"),
    re_path(
        r"^auth/password-reset/?$", auth.PasswordResetView.as_view(), name="auth-password-reset"
    ),
    re_path(
        r"^auth/password-reset/confirm/?$",
        auth.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    re_path(
        r"^auth/password-change/?$",
        auth.PasswordChangeView.as_view(),
        name="auth-password-change",
    ),
    re_path(r"^auth/ws-ticket/?$", auth.WsTicketView.as_view(), name="auth-ws-ticket"),
    re_path(r"^auth/api-keys/?$", api_keys.ApiKeyListCreateView.as_view(), name="api-keys"),
    re_path(
        rf"^auth/api-keys/{ID_SEGMENT.format('key_id')}/?$",
        api_keys.ApiKeyDetailView.as_view(),
        name="api-key-detail",
    ),
    re_path(r"^auth/sessions/?$", sessions.LoginSessionListView.as_view(), name="sessions"),
    re_path(
        rf"^auth/sessions/{ID_SEGMENT.format('session_id')}/?$",
        sessions.LoginSessionDetailView.as_view(),
        name="session-detail",
    ),
    re_path(r"^users/?$", users.UserListView.as_view(), name="users"),
    re_path(r"^users/me/?$", users.MeView.as_view(), name="users-me"),
    re_path(
        rf"^users/{ID_SEGMENT.format('user_id')}/?$", users.UserDetailView.as_view(), name="user"
    ),
]
