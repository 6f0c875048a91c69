"""Posts, their tags, attachments and threaded comments; uploads and unfinished chunked uploads.

Soft delete is `deleted_at IS NOT NULL`; every index the lists use is partial on
`deleted_at IS NULL`, which PostgreSQL matches for `filter(deleted_at__isnull=True)`.
`comment_count` is kept by the comment services in the same transaction, so lists sort and
filter on it without counting a million comments per page.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from uuid_utils.compat import uuid7

from accounts.validators import PrintableTextValidator

TITLE_MAX_LENGTH = 300
BODY_MAX_LENGTH = 100_000
COMMENT_MAX_LENGTH = 10_000
TAG_MAX_LENGTH = 50
TAGS_PER_POST_MAX = 10
ATTACHMENTS_PER_POST_MAX = 10
UPLOAD_NAME_MAX_LENGTH = 255
# Longest side, in pixels, of the thumbnails made of every image upload.
THUMBNAIL_SIZES = (256, 1024)

TEXT_VALIDATOR = PrintableTextValidator(allowed="\n\r\t")
LINE_VALIDATOR = PrintableTextValidator(allowed="")
LIVE = Q(deleted_at__isnull=True)


class PostStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


PUBLIC_STATUSES = (PostStatus.PUBLISHED, PostStatus.ARCHIVED)


class UploadKind(models.TextChoices):
    IMAGE = "image", "Image"
    DOCUMENT = "document", "Document"


class Upload(models.Model):
    """A stored file. Its bytes are the client's own; `content_type` is what they were
    recognised as (content.sniffing), never what the client declared. Stored under its id,
    never under the client's `name` (which is kept, cleaned, for Content-Disposition)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    name = models.CharField(max_length=UPLOAD_NAME_MAX_LENGTH)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=UploadKind.choices)
    file = models.FileField(upload_to="uploads/%Y/%m/", max_length=255)
    # {"256": storage name, "1024": storage name}, filled by the thumbnail task.
    thumbnails = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=UploadKind.values), name="content_upload_kind_valid"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="content_upload_name_not_empty"),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="content_upload_owner"),
        ]

    def __str__(self) -> str:
        return self.name


class UploadSession(models.Model):
    """A chunked (WebSocket) upload in progress. Its id becomes the Upload's; the bytes so far
    are in a file under UPLOAD_PARTIAL_DIR (content.services.uploads)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_sessions"
    )
    name = models.CharField(max_length=UPLOAD_NAME_MAX_LENGTH)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    received = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(received__lte=models.F("size")),
                name="content_uploadsession_received_within_size",
            ),
        ]
        indexes = [models.Index(fields=["updated_at"], name="content_uploadsession_idle")]

    def __str__(self) -> str:
        return f"{self.name} ({self.received}/{self.size})"


class Tag(models.Model):
    """A lower-case label; created on first use."""

    name = models.CharField(
        max_length=TAG_MAX_LENGTH,
        primary_key=True,
        validators=[LINE_VALIDATOR, MinLengthValidator(1)],
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(name=Lower("name")) & ~Q(name=""), name="content_tag_name_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Post(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH, validators=[LINE_VALIDATOR])
    body = models.TextField(max_length=BODY_MAX_LENGTH, blank=True, validators=[TEXT_VALIDATOR])
    status = models.CharField(max_length=16, choices=PostStatus.choices, default=PostStatus.DRAFT)
    tags = models.ManyToManyField(Tag, related_name="posts", blank=True)
    attachments = models.ManyToManyField(
        Upload, through="PostAttachment", related_name="posts", blank=True
    )
    comment_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    # Filled by a PostgreSQL trigger (migration 0002) from title and body; NULL on SQLite.
    # The `published_at DESC NULLS LAST` index lives in migration 0003: SQLite cannot declare
    # NULLS LAST in an index, where its DESC puts NULLs last anyway.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PostStatus.values), name="content_post_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=PostStatus.DRAFT) | Q(published_at__isnull=False),
                name="content_post_published_has_date",
            ),
            models.CheckConstraint(condition=~Q(title=""), name="content_post_title_not_empty"),
            models.CheckConstraint(
                condition=Q(comment_count__gte=0), name="content_post_comment_count_positive"
            ),
        ]
        indexes = [
            models.Index(
                fields=["-created_at", "-id"], condition=LIVE, name="content_post_live_created"
            ),
            models.Index(
                fields=["status", "-created_at", "-id"],
                condition=LIVE,
                name="content_post_live_status",
            ),
            models.Index(
                fields=["author", "-created_at"], condition=LIVE, name="content_post_live_author"
            ),
            models.Index(
                fields=["-comment_count", "-id"], condition=LIVE, name="content_post_live_comments"
            ),
            models.Index(
                fields=["-updated_at", "-id"], condition=LIVE, name="content_post_live_upd"
            ),
            models.Index(fields=["title", "id"], condition=LIVE, name="content_post_live_title"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES and self.deleted_at is None


class PostAttachment(models.Model):
    """An upload shown with a post, in the order the author gave."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["post", "position"]
        constraints = [
            models.UniqueConstraint(fields=["post", "upload"], name="content_attachment_unique"),
        ]

    def __str__(self) -> str:
        return f"Upload {self.upload_id} on {self.post_id}"


class Comment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    body = models.TextField(max_length=COMMENT_MAX_LENGTH, validators=[TEXT_VALIDATOR])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="content_comment_body_not_empty"),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="content_comment_not_own_parent"
            ),
        ]
        indexes = [
            models.Index(fields=["post", "created_at", "id"], name="content_comment_post_created"),
            models.Index(
                fields=["author", "post"], condition=LIVE, name="content_comment_live_author"
            ),
            models.Index(fields=["parent"], name="content_comment_parent"),
            models.Index(fields=["-created_at", "-id"], name="content_comment_created"),
        ]

    def __str__(self) -> str:
        return f"Comment {self.pk} on {self.post_id}"
