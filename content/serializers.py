"""Input and output shapes of the content API.

Output is built by the plain functions of content.representations; the output serializers
render through them so the OpenAPI document still describes every field.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from content.models import (
    BODY_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TAGS_PER_POST_MAX,
    TITLE_MAX_LENGTH,
    Comment,
    Post,
    PostStatus,
)
from content.models import LINE_VALIDATOR as single_line
from content.models import TEXT_VALIDATOR as multi_line
from content.representations import comment_representation, post_representation


class AuthorOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class PostOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    body = serializers.CharField()
    status = serializers.ChoiceField(choices=PostStatus.choices)
    tags = serializers.ListField(child=serializers.CharField())
    author = AuthorOutputSerializer()
    comment_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Post) -> dict[str, Any]:
        return post_representation(instance)


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


class PostBulkUpdateItemSerializer(PostInputSerializer):
    """Validated partially (only the fields sent change), but `id` is always required."""

    id = serializers.UUIDField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "id" not in attrs:
            raise serializers.ValidationError({"id": ["This field is required."]})
        return attrs


class PostBulkInputSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.DictField(), allow_empty=False)


class PostBulkDeleteInputSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)


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
    body = serializers.CharField(
        max_length=COMMENT_MAX_LENGTH, trim_whitespace=False, validators=[multi_line]
    )


class ExportQuerySerializer(serializers.Serializer):
    file_format = serializers.ChoiceField(choices=["csv", "json", "xlsx"], default="csv")


class StatsQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=30)
    top = serializers.IntegerField(min_value=1, max_value=50, default=10)
