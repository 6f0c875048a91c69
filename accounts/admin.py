"""Admin pages for users, logins, API keys and lockouts. Every write goes through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError

from accounts.models import ApiKey, LoginFailureCounter, LoginSession, User
from accounts.services import (
    api_key_revoke,
    login_lock_clear,
    login_locks_clear,
    login_session_revoke,
    login_sessions_revoke,
    user_update_by_admin,
)


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
        """Role and activation changes go through the service (it ends logins, logs)."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        stored = User.objects.get(pk=obj.pk)
        role, is_active = obj.role, obj.is_active
        obj.role, obj.is_active = stored.role, stored.is_active
        super().save_model(request, obj, form, change)
        try:
            user_update_by_admin(actor=request.user, user=obj, role=role, is_active=is_active)
        except ValidationError as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)

    @admin.action(description="Unlock (clear failed logins)")
    def unlock(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            login_lock_clear(user=user)
        self.message_user(request, f"Unlocked {queryset.count()} account(s).", messages.SUCCESS)

    @admin.action(description="End all logins (revoke tokens)")
    def end_logins(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            login_sessions_revoke(user_id=user.pk, reason="admin")
        self.message_user(request, f"Ended the logins of {queryset.count()} user(s).")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LoginSession)
class LoginSessionAdmin(ReadOnlyAdmin):
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
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    exclude = ("key_hash",)
    actions = ["revoke"]

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key=key)


@admin.register(LoginFailureCounter)
class LoginFailureCounterAdmin(ReadOnlyAdmin):
    """The lockouts page: who is counting failures, who is locked and until when."""

    list_display = ("scope", "key", "user", "failures", "window_started_at", "locked_until")
    list_filter = ("scope",)
    search_fields = ("key", "user__username", "user__email")
    list_select_related = ("user",)
    actions = ["unlock"]

    @admin.action(description="Unlock (clear these counters)")
    def unlock(self, request: HttpRequest, queryset: QuerySet[LoginFailureCounter]) -> None:
        cleared = login_locks_clear(counter_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Cleared {cleared} counter(s).", messages.SUCCESS)
