"""What the job engine and the AI assistant refuse (domain errors, mapped to the envelope in one
place) and the signals a running job's context raises to stop its kind's work."""

from __future__ import annotations

from config.core.errors import Conflict, DomainError, NotFound, ServiceUnavailable


class JobNotFound(NotFound):
    default_message = "No such job."


class JobStateConflict(Conflict):
    """The job is not in a state the operation applies to (cancel an ended job, requeue one
    that is still queued or running)."""

    default_message = "The job is not in a state that allows this."


class JobResultGone(DomainError):
    code = "gone"
    default_message = "This job's result has expired and was deleted."


class JobStopped(Exception):
    """Raised inside a running job: it must stop now. Not an error of the kind's work."""


class JobCancelled(JobStopped):
    """Its owner cancelled it; the runner records it `cancelled`."""


class JobLost(JobStopped):
    """Its lease passed to another attempt (the sweep thought this worker dead): this attempt
    may no longer write the row, and its work is thrown away."""


class AiUnavailable(ServiceUnavailable):
    """No AI provider is configured (OPENAI_BASE_URL and OPENAI_API_KEY both unset)."""

    default_message = "The AI assistant is not configured on this server."


class AiUpstreamError(DomainError):
    """The provider failed (an error status, a dropped connection, an answer that is not what
    the protocol says, or no answer in time) and retrying within OPENAI_TIMEOUT did not help."""

    code = "upstream_error"
    default_message = "The AI provider failed to answer; try again later."


class WebhookEndpointNotFound(NotFound):
    default_message = "No such webhook endpoint."
