from accounts.views import api_keys, auth, sessions, users
from config.api.routers import optional_slash

urlpatterns = [
    optional_slash("auth/register", auth.RegisterView.as_view(), name="auth-register"),
    optional_slash("auth/verify-email", auth.VerifyEmailView.as_view(), name="auth-verify-email"),
    optional_slash("auth/token", auth.TokenView.as_view(), name="auth-token"),
    optional_slash("auth/token/refresh", auth.TokenRefreshView.as_view(), name="auth-refresh"),
    optional_slash("auth/logout", auth.LogoutView.as_view(), name="auth-logout"),
    optional_slash("auth/logout-all", auth.LogoutAllView.as_view(), name="auth-logout-all"),
    optional_slash(
        "auth/password-reset", auth.PasswordResetView.as_view(), name="auth-password-reset"
    ),
    optional_slash(
        "auth/password-reset/confirm",
        auth.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    optional_slash(
        "auth/password-change",
        auth.PasswordChangeView.as_view(),
        name="auth-password-change",
    ),
    optional_slash("auth/ws-ticket", auth.WsTicketView.as_view(), name="auth-ws-ticket"),
    optional_slash("auth/api-keys", api_keys.ApiKeyListCreateView.as_view(), name="api-keys"),
    optional_slash(
        "auth/api-keys/<key_id>",
        api_keys.ApiKeyDetailView.as_view(),
        name="api-key-detail",
    ),
    optional_slash("auth/sessions", sessions.LoginSessionListView.as_view(), name="sessions"),
    optional_slash(
        "auth/sessions/<session_id>",
        sessions.LoginSessionDetailView.as_view(),
        name="session-detail",
    ),
    optional_slash("users", users.UserListView.as_view(), name="users"),
    optional_slash("users/me", users.MeView.as_view(), name="users-me"),
    optional_slash("users/<user_id>", users.UserDetailView.as_view(), name="user"),
]
