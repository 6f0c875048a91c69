"""Input and output shapes of the content API.

Output is built by the plain functions of content.representations; the output serializers
render through them so the OpenAPI document still describes every field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from content.models import (
    ATTACHMENTS_PER_POST_MAX,
    BODY_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TAGS_PER_POST_MAX,
    THUMBNAIL_SIZES,
    TITLE_MAX_LENGTH,
    Comment,
    Post,
    PostStatus,
    Upload,
    UploadKind,
)
from content.models import LINE_VALIDATOR as single_line
from content.models import TEXT_VALIDATOR as multi_line
from content.representations import (
    comment_representation,
    post_representation,
    upload_representation,
)
from content.selectors.stats import DAYS_MAX, TOP_MAX
from content.services.bulk import BULK_MAX_ITEMS
from content.sniffing import ALLOWED_TYPE_CHOICES


class AuthorOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class UploadOwnerOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class UploadThumbnailsOutputSerializer(serializers.Serializer):
    """Absolute URLs of the thumbnails by longest side (`"256"`, `"1024"`); empty until they
    are made."""

    openapi_schema_extra: ClassVar[dict[str, Any]] = {"additionalProperties": False}

    def get_fields(self) -> dict[str, serializers.Field]:
        # The sizes are the keys, which no Python attribute can be named.
        return {
            str(size): serializers.URLField(
                required=False, help_text=f"WebP, at most {size} pixels on its longest side."
            )
            for size in THUMBNAIL_SIZES
        }


class UploadOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(help_text="The client's file name, cleaned.")
    content_type = serializers.ChoiceField(
        choices=ALLOWED_TYPE_CHOICES, help_text="Recognised from the bytes, never the name."
    )
    size = serializers.IntegerField(min_value=1, help_text="Bytes.")
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="Hex SHA-256 of the bytes.")
    url = serializers.URLField(help_text="The bytes: `GET uploads/{id}/content`.")
    kind = serializers.ChoiceField(choices=UploadKind.choices)
    thumbnails = UploadThumbnailsOutputSerializer()
    owner = UploadOwnerOutputSerializer()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Upload) -> dict[str, Any]:
        return upload_representation(instance)


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=(
            "The file: a JPEG, PNG, WebP or GIF image, a PDF, or plain UTF-8 text, recognised "
            "by its content; at most UPLOAD_MAX_BYTES (default 10 MiB)."
        )
    )


class PostOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    body = serializers.CharField()
    status = serializers.ChoiceField(choices=PostStatus.choices)
    tags = serializers.ListField(child=serializers.CharField())
    attachments = UploadOutputSerializer(many=True)
    author = AuthorOutputSerializer()
    comment_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Post) -> dict[str, Any]:
        return post_representation(instance)


class PostExportItemOutputSerializer(PostOutputSerializer):
    """An item of the JSON export: a post as listed, without its attachments."""

    attachments = None


class CommentOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    post = serializers.UUIDField()
    parent = serializers.UUIDField(allow_null=True)
    body = serializers.CharField()
    author = AuthorOutputSerializer()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance: Comment) -> dict[str, Any]:
        return comment_representation(instance)


def _tags_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH, validators=[single_line]),
        max_length=TAGS_PER_POST_MAX,
        required=False,
        help_text=f"Up to {TAGS_PER_POST_MAX} labels; stored in lower case.",
    )


class PostInputSerializer(serializers.Serializer):
    """Create (all fields) or, partial, update. Author, counts and dates never come from a body."""

    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, validators=[single_line])
    body = serializers.CharField(
        max_length=BODY_MAX_LENGTH,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        validators=[multi_line],
    )
    status = serializers.ChoiceField(choices=PostStatus.choices, required=False)
    tags = _tags_field()
    attachments = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=ATTACHMENTS_PER_POST_MAX,
        required=False,
        help_text=(
            f"Ids of up to {ATTACHMENTS_PER_POST_MAX} of the caller's own uploads, in the order "
            "shown (on update also those the post already shows); replaces the attachments."
        ),
    )


class PostBulkUpdateItemSerializer(PostInputSerializer):
    """Validated partially (only the fields sent change), but `id` is always required."""

    id = serializers.UUIDField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # Says so to the OpenAPI document too, which reads `required` of each field.
        fields = super().get_fields()
        for name, field in fields.items():
            field.required = name == "id"
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "id" not in attrs:
            raise serializers.ValidationError({"id": ["This field is required."]})
        return attrs


class PostBulkInputSerializer(serializers.Serializer):
    """The envelope; each item is then validated on its own, so errors name its index."""

    items = serializers.ListField(child=serializers.DictField(), allow_empty=False)


class PostBulkCreateInputSerializer(serializers.Serializer):
    """What `POST posts/bulk` takes, for the OpenAPI document (the view validates in steps)."""

    items = serializers.ListField(
        child=PostInputSerializer(), min_length=1, max_length=BULK_MAX_ITEMS
    )


class PostBulkUpdateInputSerializer(serializers.Serializer):
    """What `PATCH posts/bulk` takes, for the OpenAPI document (the view validates in steps)."""

    # drf-spectacular makes every PATCH body partial; this one always needs its items.
    openapi_schema_extra: ClassVar[dict[str, Any]] = {"required": ["items"]}

    items = serializers.ListField(
        child=PostBulkUpdateItemSerializer(), min_length=1, max_length=BULK_MAX_ITEMS
    )


class PostBulkDeleteInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=False, min_length=1, max_length=BULK_MAX_ITEMS
    )


class PostBulkOutputSerializer(serializers.Serializer):
    results = PostOutputSerializer(many=True)


class PostBulkDeleteOutputSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()


class CommentCreateInputSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=COMMENT_MAX_LENGTH, trim_whitespace=False, validators=[multi_line]
    )
    parent = serializers.UUIDField(required=False, allow_null=True)


class CommentUpdateInputSerializer(serializers.Serializer):
    """PUT and PATCH alike: the body is all a comment has to change, so it is required."""

    # drf-spectacular makes every PATCH body partial; this one is validated whole.
    openapi_schema_extra: ClassVar[dict[str, Any]] = {"required": ["body"]}

    body = serializers.CharField(
        max_length=COMMENT_MAX_LENGTH, trim_whitespace=False, validators=[multi_line]
    )


class ExportQuerySerializer(serializers.Serializer):
    file_format = serializers.ChoiceField(choices=["csv", "json", "xlsx"], default="csv")


class StatsQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=DAYS_MAX, default=30)
    top = serializers.IntegerField(min_value=1, max_value=TOP_MAX, default=10)


class DayCountOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField(min_value=0)


class AuthorCountOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    post_count = serializers.IntegerField(min_value=1)


class CommentTotalsOutputSerializer(serializers.Serializer):
    total = serializers.IntegerField(min_value=0)
    per_post_avg = serializers.FloatField(min_value=0)


class PostStatsOutputSerializer(serializers.Serializer):
    """Describes content.selectors.stats.PostStats for the OpenAPI document."""

    posts_per_day = DayCountOutputSerializer(many=True)
    top_authors = AuthorCountOutputSerializer(many=True)
    comments = CommentTotalsOutputSerializer()
