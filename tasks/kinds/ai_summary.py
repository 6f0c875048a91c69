"""`ai_summary`: a post summarised by the AI assistant; the text streams as `job.output` events
while it is written and ends in the result, `{"summary": "…"}`.

The provider's failures are the job's transient failures (retried with backoff, then dead);
a post that is gone, or no provider configured any more, ends it `failed`. Running it again
writes a new summary from the start, so it is idempotent in the engine's sense.
"""

from __future__ import annotations

import time
from typing import Any

from config.core.errors import ValidationFailed
from tasks.exceptions import AiUnavailable
from tasks.kinds import JobFailed, JobKind
from tasks.runner import JobContext

# Provider chunks are a few characters each; the room hears of them in pieces this far apart
# (and when the reply ends), which keeps the events per summary in the tens.
OUTPUT_MIN_INTERVAL_SECONDS = 0.1


def clean(params: dict[str, Any], actor: Any) -> dict[str, Any]:
    from content.selectors import post_get
    from tasks.services.ai import ai_configured

    if not ai_configured():
        raise AiUnavailable()
    unknown = sorted(set(params) - {"post"})
    if unknown:
        raise ValidationFailed({name: ["Unknown parameter."] for name in unknown})
    post = post_get(actor=actor, post_id=str(params.get("post", "")))
    if post is None:
        raise ValidationFailed({"post": ["No such post."]})
    return {"post": str(post.pk)}


class _Coalescer:
    """Gathers the provider's chunks and hands them on at most every interval."""

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.pending: list[str] = []
        self.sent_at = time.monotonic()

    def add(self, chunk: str) -> None:
        self.pending.append(chunk)
        if time.monotonic() - self.sent_at >= OUTPUT_MIN_INTERVAL_SECONDS:
            self.flush()
            self.context.check_cancelled()

    def flush(self) -> None:
        if self.pending:
            self.context.output("".join(self.pending))
            self.pending.clear()
        self.sent_at = time.monotonic()


def run(context: JobContext) -> dict[str, Any]:
    from content.selectors import post_get
    from tasks.services.ai import ai_post_summary

    post = post_get(actor=context.owner, post_id=context.params["post"])
    if post is None:
        raise JobFailed("The post is gone, or its owner may no longer read it.")
    output = _Coalescer(context)
    try:
        reply = ai_post_summary(title=post.title, body=post.body, on_chunk=output.add)
    except AiUnavailable as error:
        raise JobFailed(error.message) from error
    output.flush()
    return {"summary": reply.content}


KIND = JobKind(name="ai_summary", clean=clean, run=run, retries=3, retry_base_seconds=5.0)
