"""Input and output shapes of `POST ai/chat`. The caps of the messages together and the models a
request may name are the service's to check (tasks.services.ai): they depend on settings."""

from __future__ import annotations

from rest_framework import serializers

from tasks.services.ai import MESSAGES_MAX, ROLES


class ChatMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)


class ChatInputSerializer(serializers.Serializer):
    messages = serializers.ListField(
        child=ChatMessageSerializer(),
        min_length=1,
        max_length=MESSAGES_MAX,
        help_text=(
            "The conversation so far, oldest first. Their contents together may have at most "
            "AI_PROMPT_MAX_CHARS characters (32,000 by default); more is a 400."
        ),
    )
    model = serializers.CharField(
        required=False,
        max_length=200,
        help_text="One of the models the server allows (OPENAI_MODEL by default).",
    )
    stream = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Answer as `text/event-stream`, chunk by chunk, instead of one JSON object.",
    )


class ChatUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class AssistantMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["assistant"])
    content = serializers.CharField(allow_blank=True)


class ChatOutputSerializer(serializers.Serializer):
    message = AssistantMessageSerializer()
    model = serializers.CharField(help_text="The model that answered, as the provider names it.")
    usage = ChatUsageSerializer(
        allow_null=True, help_text="The provider's token counts; null if it sent none."
    )
    truncated = serializers.BooleanField(
        help_text="The reply was cut at AI_REPLY_MAX_CHARS characters (16,000 by default)."
    )
