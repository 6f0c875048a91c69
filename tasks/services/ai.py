"""The AI assistant: chat with an OpenAI-compatible provider, whole or streamed, and summaries.

Plain Python: the API view (tasks.views_ai) and the `ai_summary` job kind call it. It raises
domain errors only (`ValidationFailed`, `AiUnavailable`, `AiUpstreamError`): whatever the
provider does, no other exception leaves this module.

One deadline, OPENAI_TIMEOUT seconds from the call, bounds everything: each attempt's connection
and wait for the answer's headers (the client's timeout is what remains of it), the backoff
between attempts, and the reading of the body or stream (a watchdog shuts the socket down when
the deadline passes, so a provider trickling bytes cannot hold a thread any longer). The
official client's own retries are off: each of them would get the whole timeout again, and it
sleeps whatever a provider's `Retry-After` says (up to a minute). Here a failed attempt is
retried at most twice, after about 0.5 s then 1 s (full jitter), and only while the deadline
leaves time for it. A streamed answer is retried only until its first chunk: what was sent to
the client cannot be taken back.

The body is read here, not by the client: the reply is capped (AI_REPLY_MAX_CHARS; a longer one
is cut and marked `truncated`), so are the raw bytes of a provider that sends megabytes of
something else, and whatever is not the protocol (not JSON, no choices, a stream that stops
without its `[DONE]`) is a failed attempt.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import openai
from django.conf import settings

from config.core.errors import ValidationFailed
from tasks.exceptions import AiUnavailable, AiUpstreamError

logger = logging.getLogger("agora.ai")

ROLES = ("system", "user", "assistant")
MESSAGES_MAX = 50
RETRIES = 2
BACKOFF_BASE_SECONDS = 0.5
# A non-streamed body, or one line of a stream, bigger than this is not an answer.
BODY_MAX_BYTES = 1 << 20
# Statuses worth another attempt; any other error status (a bad key, an unknown model) is not.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
SUMMARY_INSTRUCTIONS = (
    "Summarise the following post in a few sentences, in the language it is written in. "
    "Answer with the summary only."
)

T = TypeVar("T")


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class ChatReply:
    content: str
    model: str
    # The provider's {prompt_tokens, completion_tokens, total_tokens}; None if it sent none.
    usage: dict[str, int] | None
    truncated: bool = False


@dataclass(frozen=True)
class _Request:
    messages: tuple[ChatMessage, ...]
    model: str


class _Failure(Exception):
    """One failed attempt; `retryable` says whether another may succeed."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.retryable = retryable


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


# --- validation -------------------------------------------------------------------------------


def ai_configured() -> bool:
    """Whether a provider is configured (its URL or its key)."""
    return bool(settings.OPENAI_BASE_URL or settings.OPENAI_API_KEY)


def ai_models() -> list[str]:
    """The models a request may name; the first is the default."""
    return list(dict.fromkeys([settings.OPENAI_MODEL, *settings.OPENAI_ALLOWED_MODELS]))


def _prepare(messages: Sequence[Mapping[str, Any]], model: str | None) -> _Request:
    if not ai_configured():
        raise AiUnavailable()
    errors: dict[str, list[str]] = {}
    cleaned: list[ChatMessage] = []
    if not messages:
        errors["messages"] = ["Give at least one message."]
    elif len(messages) > MESSAGES_MAX:
        errors["messages"] = [f"At most {MESSAGES_MAX} messages."]
    else:
        for message in messages:
            role, content = message.get("role"), message.get("content")
            if role not in ROLES or not isinstance(content, str):
                errors["messages"] = [f"Each message is a role ({', '.join(ROLES)}) and content."]
                break
            cleaned.append(ChatMessage(role=role, content=content))
        size = sum(len(message.content) for message in cleaned)
        if "messages" not in errors and size > settings.AI_PROMPT_MAX_CHARS:
            errors["messages"] = [
                f"The messages are {size} characters together; at most "
                f"{settings.AI_PROMPT_MAX_CHARS} are accepted."
            ]
    chosen = model or settings.OPENAI_MODEL
    if chosen not in ai_models():
        errors["model"] = [f"One of: {', '.join(ai_models())}."]
    if errors:
        raise ValidationFailed(errors)
    return _Request(messages=tuple(cleaned), model=chosen)


# --- the two ways to ask ---------------------------------------------------------------------


def ai_chat(*, messages: Sequence[Mapping[str, Any]], model: str | None = None) -> ChatReply:
    """The provider's whole reply to `messages` (role and content each)."""
    request = _prepare(messages, model)
    deadline = _Deadline(settings.OPENAI_TIMEOUT)
    return _with_retries(deadline, lambda: _complete(request, deadline))


def ai_chat_stream(
    *, messages: Sequence[Mapping[str, Any]], model: str | None = None
) -> ChatStream:
    """The reply as it is written: iterate the stream for its text chunks; once it is
    exhausted, `reply` has the whole of it. Returns once the first chunk arrived (or the reply
    ended empty), so a failure before any text is an exception here, not in the iteration;
    a failure later is an `AiUpstreamError` from the iteration."""
    request = _prepare(messages, model)
    deadline = _Deadline(settings.OPENAI_TIMEOUT)

    def attempt() -> ChatStream:
        stream = ChatStream(_Exchange(request, deadline, stream=True), request.model)
        try:
            stream.prefetch()
        except BaseException:
            stream.close()
            raise
        return stream

    return _with_retries(deadline, attempt)


def ai_post_summary(*, title: str, body: str, on_chunk: Callable[[str], None]) -> ChatReply:
    """A summary of a post, streamed to `on_chunk` as it is written."""
    text = f"{title}\n\n{body}"
    room = max(0, settings.AI_PROMPT_MAX_CHARS - len(SUMMARY_INSTRUCTIONS))
    messages = [
        {"role": "system", "content": SUMMARY_INSTRUCTIONS},
        {"role": "user", "content": text[:room]},
    ]
    stream = ai_chat_stream(messages=messages)
    with stream:
        for chunk in stream:
            on_chunk(chunk)
    return stream.reply


# --- retries ----------------------------------------------------------------------------------


def _with_retries(deadline: _Deadline, attempt: Callable[[], T]) -> T:
    reason = ""
    for retry in range(RETRIES + 1):
        try:
            return attempt()
        except _Failure as failure:
            reason = str(failure)
            if not failure.retryable or retry == RETRIES:
                break
            delay = random.uniform(0, BACKOFF_BASE_SECONDS * 2**retry)  # noqa: S311 - jitter  # nosec B311
            # Another attempt only if, after the pause, it still has a second of the deadline.
            if deadline.remaining() < delay + 1.0:
                break
            logger.warning(
                "AI provider failed, retrying", extra={"reason": reason, "retry_in": delay}
            )
            time.sleep(delay)
    logger.error("AI provider failed", extra={"reason": reason})
    raise AiUpstreamError()


# --- one exchange with the provider -----------------------------------------------------------


@lru_cache(maxsize=4)
def _client(base_url: str, api_key: str) -> openai.OpenAI:
    """One client (and connection pool) per configuration, shared by every thread."""
    return openai.OpenAI(
        base_url=base_url or None,
        # A local provider may need no key; the client insists on one.
        api_key=api_key or "unused",
        max_retries=0,
    )


class _Exchange:
    """One request and its response, read under the deadline.

    Opening it sends the request and waits for the status; `chunks()` yields the body as it
    comes. At the deadline a watchdog shuts the socket down, which ends any read blocked on it.
    """

    def __init__(self, request: _Request, deadline: _Deadline, *, stream: bool) -> None:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _Failure("no time left", retryable=False)
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
        client = _client(settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY)
        self._timer: threading.Timer | None = None
        self._closed = False
        self.expired = False
        try:
            self._manager = client.chat.completions.with_streaming_response.create(
                model=request.model,
                messages=[{"role": m.role, "content": m.content} for m in request.messages],
                stream=stream,
                timeout=remaining,
                **extra,
            )
            self._response = self._manager.__enter__()
        except openai.APIStatusError as error:
            status = error.status_code
            raise _Failure(
                f"status {status}", retryable=status in RETRYABLE_STATUSES or status >= 500
            ) from error
        except Exception as error:  # a connection error, a timeout, anything
            raise _Failure(f"{type(error).__name__}: {error}") from error
        self._timer = threading.Timer(deadline.remaining(), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        network = self._response.http_response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        try:
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
            else:
                self._response.http_response.close()
        except OSError:
            pass

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes()
        except Exception as error:  # a dropped or shut connection
            raise self._failure(f"{type(error).__name__}: {error}") from error
        if self.expired:
            raise self._failure("ended")

    def lines(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self.chunks():
            pending += chunk
            *complete, pending = pending.split(b"\n")
            if len(pending) > BODY_MAX_BYTES:
                raise _Failure("a stream line over the size limit")
            yield from complete
        if pending:
            yield pending

    def _failure(self, reason: str) -> _Failure:
        if self.expired:
            return _Failure("no complete answer within OPENAI_TIMEOUT", retryable=False)
        return _Failure(reason)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        try:
            self._manager.__exit__(None, None, None)
        except Exception:  # closing a broken connection may complain
            logger.debug("closing the AI provider's response failed", exc_info=True)


def _complete(request: _Request, deadline: _Deadline) -> ChatReply:
    exchange = _Exchange(request, deadline, stream=False)
    try:
        body = bytearray()
        for chunk in exchange.chunks():
            body += chunk
            if len(body) > BODY_MAX_BYTES:
                raise _Failure("an answer over the size limit")
    finally:
        exchange.close()
    try:
        answer = json.loads(body)
        content = answer["choices"][0]["message"]["content"] or ""
        if not isinstance(content, str):
            raise TypeError("content is not text")
        model = answer.get("model")
        usage = _usage(answer.get("usage"))
    except (ValueError, LookupError, TypeError, AttributeError) as error:
        raise _Failure(f"not a chat completion: {type(error).__name__}") from error
    cap = settings.AI_REPLY_MAX_CHARS
    return ChatReply(
        content=content[:cap],
        model=model if isinstance(model, str) and model else request.model,
        usage=usage,
        truncated=len(content) > cap,
    )


def _usage(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    if not all(isinstance(value.get(name), int) for name in USAGE_FIELDS):
        return None
    return {name: value[name] for name in USAGE_FIELDS}


class ChatStream:
    """A streamed reply: iterate it for text chunks (see `ai_chat_stream`); use it as a
    context manager, or `close()` it, to let go of the connection early."""

    def __init__(self, exchange: _Exchange, model: str) -> None:
        self._exchange = exchange
        self._events = self._parse(exchange.lines())
        self._first: str | None = None
        self._parts: list[str] = []
        self._length = 0
        self._model = model
        self._usage: dict[str, int] | None = None
        self._truncated = False
        self._done = False

    def prefetch(self) -> None:
        """Read up to the first non-empty chunk, so failures before it can be retried."""
        self._first = next(self._texts(), None)

    def __iter__(self) -> Iterator[str]:
        try:
            if self._first is not None:
                yield self._first
                yield from self._texts()
        except _Failure as failure:
            logger.error("AI provider failed mid-stream", extra={"reason": str(failure)})
            raise AiUpstreamError("The AI provider stopped answering mid-way.") from failure
        finally:
            self.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._exchange.close()

    @property
    def reply(self) -> ChatReply:
        return ChatReply(
            content="".join(self._parts),
            model=self._model,
            usage=self._usage,
            truncated=self._truncated,
        )

    def _texts(self) -> Iterator[str]:
        cap = settings.AI_REPLY_MAX_CHARS
        for text in self._events:
            if not text:
                continue
            if self._length + len(text) > cap:
                text = text[: cap - self._length]
                self._truncated = True
            self._parts.append(text)
            self._length += len(text)
            if text:
                yield text
            if self._truncated:
                self.close()
                return
        if not self._done:
            raise _Failure("the stream ended without [DONE]")

    def _parse(self, lines: Iterator[bytes]) -> Iterator[str]:
        """The text of each `data:` event; the model and usage are kept as they come."""
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                self._done = True
                return
            try:
                event = json.loads(data)
                choices = event.get("choices") or []
                delta = (choices[0].get("delta") or {}) if choices else {}
                text = delta.get("content") or ""
                if not isinstance(text, str):
                    raise TypeError("content is not text")
            except (ValueError, LookupError, TypeError, AttributeError) as error:
                raise _Failure(f"not a chat completion chunk: {type(error).__name__}") from error
            if isinstance(event.get("model"), str) and event["model"]:
                self._model = event["model"]
            self._usage = _usage(event.get("usage")) or self._usage
            yield text
