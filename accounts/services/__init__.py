"""Writes of the accounts app. Views, admin, commands and tasks all go through these."""

from accounts.services.api_keys import api_key_authenticate, api_key_create, api_key_revoke
from accounts.services.lockout import login_lock_clear, login_locks_clear
from accounts.services.notifications import account_email_send
from accounts.services.passwords import (
    password_change,
    password_reset_confirm,
    password_reset_email_send,
    password_reset_request,
    password_validate,
)
from accounts.services.registration import email_verify, user_register
from accounts.services.sessions import (
    login,
    login_session_logout,
    login_session_refresh,
    login_session_revoke,
    login_session_start,
    login_sessions_purge,
    login_sessions_revoke,
)
from accounts.services.tickets import ws_ticket_issue, ws_ticket_redeem
from accounts.services.users import (
    ADMIN_FORM_FIELDS,
    user_admin_form_recorded,
    user_admin_password_set_recorded,
    user_audit_snapshot,
    user_ensure,
    user_ensure_superuser,
    user_profile_update,
    user_update_by_admin,
)

__all__ = [
    "ADMIN_FORM_FIELDS",
    "account_email_send",
    "api_key_authenticate",
    "api_key_create",
    "api_key_revoke",
    "email_verify",
    "login",
    "login_lock_clear",
    "login_locks_clear",
    "login_session_logout",
    "login_session_refresh",
    "login_session_revoke",
    "login_session_start",
    "login_sessions_purge",
    "login_sessions_revoke",
    "password_change",
    "password_reset_confirm",
    "password_reset_email_send",
    "password_reset_request",
    "password_validate",
    "user_admin_form_recorded",
    "user_admin_password_set_recorded",
    "user_audit_snapshot",
    "user_ensure",
    "user_ensure_superuser",
    "user_profile_update",
    "user_register",
    "user_update_by_admin",
    "ws_ticket_issue",
    "ws_ticket_redeem",
]
