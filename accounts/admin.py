"""Admin pages for users, logins, API keys and lockouts. Every write goes through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import ApiKey, LoginFailureCounter, LoginSession, User
from accounts.services import (
    ADMIN_FORM_FIELDS,
    api_key_revoke,
    login_lock_clear,
    login_locks_clear,
    login_session_revoke,
    login_sessions_revoke,
    user_admin_form_recorded,
    user_admin_password_set_recorded,
    user_audit_snapshot,
    user_update_by_admin,
)
from config.core.admin import ViewOnlyAdmin
from config.core.errors import DomainError


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "display_name", "role", "email_verified", "is_active")
    list_filter = ("role", "is_active", "email_verified", "is_staff", "is_superuser")
    search_fields = ("username", "email", "display_name")
    ordering = ("-date_joined",)
    readonly_fields = ("last_login", "date_joined", "email_verified")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Agora", {"fields": ("role", "email_verified", "display_name", "bio")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "password1", "password2"),
            },
        ),
    )
    actions = ["unlock", "end_logins"]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Role and activation changes go through the service (it ends logins, logs); the
        rest of the form is saved here and recorded as `user.updated` (or `user.created`).

        The admin runs this in one transaction with the audit records.
        """
        if not change:
            super().save_model(request, obj, form, change)
            after = user_audit_snapshot(obj, ADMIN_FORM_FIELDS)
            user_admin_form_recorded(actor=request.user, user=obj, before=None, after=after)
            return
        stored = User.objects.get(pk=obj.pk)
        before = user_audit_snapshot(stored, ADMIN_FORM_FIELDS)
        role, is_active = obj.role, obj.is_active
        obj.role, obj.is_active = stored.role, stored.is_active
        super().save_model(request, obj, form, change)
        after = user_audit_snapshot(obj, ADMIN_FORM_FIELDS)
        try:
            user_update_by_admin(actor=request.user, user=obj, role=role, is_active=is_active)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        user_admin_form_recorded(actor=request.user, user=obj, before=before, after=after)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's password form, plus a `user.password_changed` record when it saved one."""
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            before = user.password if user is not None else None
            response = super().user_change_password(request, id, form_url)
            if user is not None:
                user.refresh_from_db(fields=["password"])
                if user.password != before:
                    user_admin_password_set_recorded(actor=request.user, user=user)
        return response

    @admin.action(description="Unlock (clear failed logins)")
    def unlock(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            login_lock_clear(user=user, actor=request.user)
        self.message_user(request, f"Unlocked {queryset.count()} account(s).", messages.SUCCESS)

    @admin.action(description="End all logins (revoke tokens)")
    def end_logins(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            login_sessions_revoke(user_id=user.pk, reason="admin")
        self.message_user(request, f"Ended the logins of {queryset.count()} user(s).")


@admin.register(LoginSession)
class LoginSessionAdmin(ViewOnlyAdmin):
    list_display = ("id", "user", "created_at", "refreshed_at", "revoked_at", "revoke_reason", "ip")
    list_filter = ("revoke_reason", "cookie_mode")
    search_fields = ("user__username", "user__email", "ip")
    list_select_related = ("user",)
    exclude = ("current_jti",)
    actions = ["revoke"]

    @admin.action(description="End the selected logins")
    def revoke(self, request: HttpRequest, queryset: QuerySet[LoginSession]) -> None:
        for session in queryset.filter(revoked_at__isnull=True):
            login_session_revoke(session=session, reason="admin")


@admin.register(ApiKey)
class ApiKeyAdmin(ViewOnlyAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    exclude = ("key_hash",)
    actions = ["revoke"]

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key=key, actor=request.user)


@admin.register(LoginFailureCounter)
class LoginFailureCounterAdmin(ViewOnlyAdmin):
    """The lockouts page: who is counting failures, who is refused and until when.

    An account at its limit is locked (429 `account_locked`); an address at its limit is
    rate-limited (429 `rate_limited`) and locks no account. Clearing a counter lifts either.
    """

    list_display = (
        "scope",
        "key",
        "user",
        "failures",
        "attempts_in_flight",
        "window_started_at",
        "locked_until",
    )
    list_filter = ("scope",)
    search_fields = ("key", "user__username", "user__email")
    list_select_related = ("user",)
    actions = ["unlock"]

    @admin.display(description="attempts in flight")
    def attempts_in_flight(self, counter: LoginFailureCounter) -> int:
        return len(counter.in_flight_live(timezone.now()))

    @admin.action(description="Unlock (clear these counters)")
    def unlock(self, request: HttpRequest, queryset: QuerySet[LoginFailureCounter]) -> None:
        cleared = login_locks_clear(
            counter_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        self.message_user(request, f"Cleared {cleared} counter(s).", messages.SUCCESS)
