"""Admin pages for posts, comments and uploads. Every write goes through the content services.

Admins see soft-deleted rows too (filter "deleted"). Hard deletion is switched off: the
"Soft-delete selected" and "Restore selected" actions call the services, and so do the save
buttons, so each admin write leaves the same audit record as the API. A refusal by a service
(a domain error) becomes an error message on the page, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from config.core.admin import ViewOnlyAdmin
from config.core.errors import DomainError
from content.models import TAG_MAX_LENGTH, TAGS_PER_POST_MAX, Comment, Post, Upload
from content.services import (
    comment_delete,
    comment_restore,
    comment_update,
    post_create,
    post_delete,
    post_restore,
    post_update,
    upload_delete,
)

POST_FORM_FIELDS = ("title", "body", "status")


class ServiceRefused(Exception):
    """A service said no while the admin saved a form; the page shows why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "No"), ("yes", "Yes")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class ServiceWriteAdmin(admin.ModelAdmin):
    """Saves through services; a refusal rolls the admin's own writes back and says why."""

    # A COUNT(*) over the whole table on every page is what makes big changelists slow.
    show_full_result_count = False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The admin wraps the save in a transaction; leaving it with the exception undoes the
        # change-log entry as well, and the form page is shown again with the message.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.display(boolean=True, description="deleted", ordering="deleted_at")
    def is_deleted(self, obj: Any) -> bool:
        return obj.deleted_at is not None

    def run_each(
        self,
        request: HttpRequest,
        objects: Iterable[Model],
        write: Callable[[Any], object],
        *,
        done: str,
    ) -> None:
        """`write` each object in its own transaction; report what was done and what refused."""
        count = 0
        for obj in objects:
            try:
                write(obj)
            except DomainError as exc:
                self.message_user(request, f"{obj}: {exc}", messages.ERROR)
            else:
                count += 1
        self.message_user(request, f"{done} {count} item(s).", messages.SUCCESS)


def _become(obj: Model, saved: Model) -> None:
    """Make the admin's form instance the row the service saved.

    The admin goes on with its own instance (change-log entry, redirect to its pk), so it must
    carry the saved row's pk and state, not the unsaved values the form put on it.
    """
    vars(obj).update(vars(saved))


class PostForm(forms.ModelForm):
    tag_names = forms.CharField(
        label="Tags",
        required=False,
        help_text=f"Comma-separated, at most {TAGS_PER_POST_MAX}; new tags are created.",
    )

    class Meta:
        model = Post
        fields = POST_FORM_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and not self.instance._state.adding:
            names = sorted(tag.name for tag in self.instance.tags.all())
            self.initial.setdefault("tag_names", ", ".join(names))

    def clean_tag_names(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["tag_names"].split(",")]
        names = [name for name in names if name]
        if len(names) > TAGS_PER_POST_MAX:
            raise forms.ValidationError(f"At most {TAGS_PER_POST_MAX} tags.")
        if any(len(name) > TAG_MAX_LENGTH for name in names):
            raise forms.ValidationError(f"A tag has at most {TAG_MAX_LENGTH} characters.")
        return names


@admin.register(Post)
class PostAdmin(ServiceWriteAdmin):
    form = PostForm
    list_display = (
        "title",
        "author",
        "status",
        "tag_list",
        "comment_count",
        "created_at",
        "published_at",
        "is_deleted",
    )
    list_filter = ("status", "created_at", DeletedFilter)
    search_fields = ("title", "body", "author__username")
    list_select_related = ("author",)
    fields = (
        "title",
        "body",
        "status",
        "tag_names",
        "author",
        "comment_count",
        "created_at",
        "updated_at",
        "published_at",
        "deleted_at",
        "deleted_by",
    )
    readonly_fields = (
        "author",
        "comment_count",
        "created_at",
        "updated_at",
        "published_at",
        "deleted_at",
        "deleted_by",
    )
    actions = ["soft_delete", "restore"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Post]:
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description="tags")
    def tag_list(self, obj: Post) -> str:
        return ", ".join(sorted(tag.name for tag in obj.tags.all()))

    def save_model(self, request: HttpRequest, obj: Post, form: PostForm, change: bool) -> None:
        data = form.cleaned_data
        try:
            if change:
                fields = {
                    name: data[name] for name in POST_FORM_FIELDS if name in form.changed_data
                }
                if "tag_names" in form.changed_data:
                    fields["tags"] = data["tag_names"]
                # The form has already put its values on `obj`; the service must see the row
                # as stored to audit what changed.
                saved = post_update(actor=request.user, post=Post.objects.get(pk=obj.pk), **fields)
            else:
                saved = post_create(
                    actor=request.user,
                    title=data["title"],
                    body=data["body"],
                    status=data["status"],
                    tags=data["tag_names"],
                )
        except DomainError as exc:
            raise ServiceRefused(str(exc)) from exc
        _become(obj, saved)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Tags were set by the service; the form has no other relations to save."""

    @admin.action(description="Soft-delete selected", permissions=["change"])
    def soft_delete(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        self.run_each(
            request,
            queryset.filter(deleted_at__isnull=True),
            lambda post: post_delete(actor=request.user, post=post),
            done="Soft-deleted",
        )

    @admin.action(description="Restore selected", permissions=["change"])
    def restore(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        self.run_each(
            request,
            queryset.filter(deleted_at__isnull=False),
            lambda post: post_restore(actor=request.user, post=post),
            done="Restored",
        )


class CommentForm(forms.ModelForm):
    class Meta:
        model = Comment
        fields = ("body",)


@admin.register(Comment)
class CommentAdmin(ServiceWriteAdmin):
    """Comments are written where they belong (under a post); here they are edited, deleted
    and restored."""

    form = CommentForm
    list_display = ("excerpt", "post", "author", "created_at", "is_deleted")
    list_filter = ("created_at", DeletedFilter)
    search_fields = ("body", "author__username", "post__title")
    list_select_related = ("post", "author")
    fields = (
        "body",
        "post",
        "parent",
        "author",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_by",
    )
    readonly_fields = (
        "post",
        "parent",
        "author",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_by",
    )
    actions = ["soft_delete", "restore"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="comment")
    def excerpt(self, obj: Comment) -> str:
        return obj.body if len(obj.body) <= 80 else f"{obj.body[:79]}…"

    def save_model(
        self, request: HttpRequest, obj: Comment, form: CommentForm, change: bool
    ) -> None:
        if "body" not in form.changed_data:
            return
        try:
            saved = comment_update(
                actor=request.user,
                comment=Comment.objects.get(pk=obj.pk),
                body=form.cleaned_data["body"],
            )
        except DomainError as exc:
            raise ServiceRefused(str(exc)) from exc
        _become(obj, saved)

    @admin.action(description="Soft-delete selected", permissions=["change"])
    def soft_delete(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        self.run_each(
            request,
            queryset.filter(deleted_at__isnull=True),
            lambda comment: comment_delete(actor=request.user, comment=comment),
            done="Soft-deleted",
        )

    @admin.action(description="Restore selected", permissions=["change"])
    def restore(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        self.run_each(
            request,
            queryset.filter(deleted_at__isnull=False),
            lambda comment: comment_restore(actor=request.user, comment=comment),
            done="Restored",
        )


@admin.register(Upload)
class UploadAdmin(ViewOnlyAdmin):
    """Uploads are made through the API; here they are found (by owner or name), inspected and
    deleted. Deleting goes through the service, so the file and its thumbnails go too and the
    deletion is audited."""

    list_display = ("name", "owner", "kind", "content_type", "size", "created_at")
    list_filter = ("kind", "content_type", "created_at")
    search_fields = ("owner__username", "owner__email", "name", "=sha256")
    list_select_related = ("owner",)
    show_full_result_count = False
    fields = (
        "name",
        "owner",
        "kind",
        "content_type",
        "size",
        "sha256",
        "stored_as",
        "thumbnails",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="stored as")
    def stored_as(self, obj: Upload) -> str:
        return obj.file.name

    def delete_model(self, request: HttpRequest, obj: Upload) -> None:
        upload_delete(actor=request.user, upload_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Upload]) -> None:
        for upload_id in queryset.values_list("pk", flat=True):
            upload_delete(actor=request.user, upload_id=upload_id)
