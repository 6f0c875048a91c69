"""`POST /api/v1/ai/chat`: the AI assistant, whole (JSON) or streamed (`text/event-stream`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsMember
from config.api.openapi import error_responses
from config.api.throttles import RoleRateThrottle, UserScopeRateThrottle
from config.core.context import current_request_id
from config.core.errors import DomainError
from config.http.envelope import error_body
from tasks.serializers_ai import ChatInputSerializer, ChatOutputSerializer
from tasks.services.ai import ChatReply, ChatStream, ai_chat, ai_chat_stream

logger = logging.getLogger("agora.ai")

EVENT_STREAM = "text/event-stream"
STREAM_DESCRIPTION = (
    'With `"stream": true`: one `data: {"content": "<chunk>"}` event per chunk of the reply, '
    'then `event: done` with `data: {"model", "usage", "truncated"}`. If the provider fails '
    "after the first chunk was sent, the stream ends with `event: error` and the error "
    'envelope as its data (`{"error": {"code": "upstream_error", …}}`) instead of `done`.'
)


# OpenAPI 3.0 has the `schema` of an event stream describe one event (as schemathesis reads it).
STREAM_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {
            "type": "string",
            "enum": ["message", "done", "error"],
            "description": "`message` (unnamed) for each chunk, then `done`, or `error`.",
        },
        "data": {
            "type": "string",
            "description": (
                'JSON: `{"content"}` for a chunk; `{"model", "usage", "truncated"}` for `done`; '
                "the error envelope for `error`."
            ),
        },
    },
    "required": ["data"],
}


class AiChatRateThrottle(UserScopeRateThrottle):
    scope = "ai"


class AiChatView(APIView):
    permission_classes = [IsAuthenticated, IsMember]
    throttle_classes = [RoleRateThrottle, AiChatRateThrottle]
    idempotency_exempt = "a reply is not a write; asking again asks the provider again."

    @extend_schema(
        tags=["ai"],
        summary="Ask the AI assistant",
        description=(
            "Sends the conversation to the OpenAI-compatible provider the server is configured "
            "with and answers its reply. At most 2 retries with backoff, all within "
            "OPENAI_TIMEOUT (30 s by default). Verified members only (a guest gets 403 "
            "`email_not_verified`); limited per user by RATE_LIMIT_AI (20/min by default) on "
            f"top of the role's limit.\n\n{STREAM_DESCRIPTION}"
        ),
        request=ChatInputSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(
                ChatOutputSerializer, description=f"The reply. {STREAM_DESCRIPTION}"
            ),
            (200, EVENT_STREAM): OpenApiResponse(
                STREAM_EVENT_SCHEMA, description=STREAM_DESCRIPTION
            ),
            **error_responses(400, 401, 403, 502, 503),
        },
    )
    def post(self, request: Request) -> Response | StreamingHttpResponse:
        serializer = ChatInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["stream"]:
            stream = ai_chat_stream(messages=data["messages"], model=data.get("model"))
            response = StreamingHttpResponse(
                _EventStream(stream, current_request_id()),
                content_type=f"{EVENT_STREAM}; charset=utf-8",
            )
            response["Cache-Control"] = "no-cache"
            # Proxies such as nginx would otherwise buffer the stream.
            response["X-Accel-Buffering"] = "no"
            return response
        reply = ai_chat(messages=data["messages"], model=data.get("model"))
        return Response(_reply_representation(reply))


def _reply_representation(reply: ChatReply) -> dict[str, Any]:
    return {
        "message": {"role": "assistant", "content": reply.content},
        "model": reply.model,
        "usage": reply.usage,
        "truncated": reply.truncated,
    }


def _event(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class _EventStream:
    """The SSE body, and its `close()` for Django to call when the response ends: it lets go of
    the provider's connection even if the body was never read (a client gone at once)."""

    def __init__(self, stream: ChatStream, request_id: str | None) -> None:
        self._stream = stream
        self._events = _events(stream, request_id)

    def __iter__(self) -> Iterator[bytes]:
        return self._events

    def close(self) -> None:
        self._events.close()
        self._stream.close()


def _events(stream: ChatStream, request_id: str | None) -> Iterator[bytes]:
    """The SSE body. Its status (200) is already sent when the provider fails mid-way, so the
    failure is an `error` event carrying the envelope."""
    try:
        for chunk in stream:
            yield _event({"content": chunk})
    except DomainError as error:
        yield _event(
            error_body(error.code, error.message, error.details, request_id=request_id), "error"
        )
        return
    except Exception:
        logger.exception("the AI reply stream failed")
        body = error_body("internal_error", "The reply stream failed.", request_id=request_id)
        yield _event(body, "error")
        return
    finally:
        stream.close()
    reply = stream.reply
    yield _event({"model": reply.model, "usage": reply.usage, "truncated": reply.truncated}, "done")
