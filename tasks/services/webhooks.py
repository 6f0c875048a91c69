"""Outgoing webhooks (docs/webhooks.md): endpoints, the events they receive, and one delivery
attempt, signed as the Standard Webhooks specification says.

Every published realtime event passes through `webhook_event_publish` (an observer of
`realtime.broadcast`, registered by the app): the endpoints subscribed to it whose owner the
event is about (their posts and the comments on them, their jobs and notifications), and every
admin's subscribed endpoint, get a WebhookDelivery row and a `webhook_delivery` job, in one
transaction. The job engine then does the rest: it sends the job to a worker, which calls
`webhook_delivery_attempt`; a failed attempt is retried on WEBHOOK_RETRY_SCHEDULE, and a
delivery whose retries are spent is a dead job, in the dead letters and requeued like any.

Nothing here knows about HTTP requests; the sending itself is tasks.webhook_transport.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Role, User
from audits.services import audit_record_write
from config.core.cache_aside import cache_get_many, cache_set, cache_version_bump
from config.core.errors import ValidationFailed
from config.core.representations import iso_time
from tasks import webhook_transport
from tasks.exceptions import WebhookEndpointNotFound
from tasks.models import (
    WEBHOOK_URL_MAX_LENGTH,
    Job,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from tasks.services.jobs import job_start_for

logger = logging.getLogger("agora.webhooks")

# The realtime event names (docs/websocket.md) an endpoint may subscribe to.
WEBHOOK_EVENTS = (
    "post.published",
    "comment.created",
    "comment.updated",
    "comment.deleted",
    "job.progress",
    "job.output",
    "job.finished",
    "notification",
)
# Sent by `POST webhooks/{id}/test` only; nobody subscribes to it.
PING_EVENT = "ping"
DELIVERY_KIND = "webhook_delivery"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret  # nosec B105
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
SECRET_GENERATED_BYTES = 32
# After a rotation the previous secret signs too, for this long.
SECRET_OVERLAP = timedelta(hours=24)
USER_AGENT = "Agora-Webhooks/1"
TARGET = "webhook"
# Of a failed attempt's answer, this much is kept in the delivery's `error`.
ERROR_EXCERPT = 200
# The event names some enabled endpoint subscribes to, cached under a version counter that
# every endpoint write moves on (`webhook_subscriptions_changed`).
SUBSCRIBED_EVENTS_KEY = "webhooks:subscribed-events"
SUBSCRIBED_EVENTS_VERSION_KEY = "webhooks:subscribed-events:version"
# Bounds how long a process whose cache is its own (the embedded mode's) may miss another
# process's new endpoint; on Redis every process sees the version move at once.
SUBSCRIBED_EVENTS_TTL_SECONDS = 60


# --- secrets and signatures -------------------------------------------------------------------


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_GENERATED_BYTES)).decode()


def _secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def _secret_clean(secret: Any) -> str:
    problem = (
        f"`{SECRET_PREFIX}` then the base64 of {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes."
    )
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValidationFailed({"secret": [problem]})
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed({"secret": [problem]}) from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise ValidationFailed({"secret": [problem]})
    return secret


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed with the secret's bytes."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signatures(endpoint: WebhookEndpoint, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: the current secret's signature, and the previous
    secret's too while a rotation's overlap lasts (space-separated, as the spec says)."""
    signed = [signature(secret=endpoint.secret, msg_id=msg_id, timestamp=timestamp, body=body)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > timezone.now():
        signed.append(
            signature(
                secret=endpoint.previous_secret, msg_id=msg_id, timestamp=timestamp, body=body
            )
        )
    return " ".join(signed)


# --- endpoints --------------------------------------------------------------------------------


def _url_clean(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationFailed({"url": ["An http or https URL."]})
    url = url.strip()
    if len(url) > WEBHOOK_URL_MAX_LENGTH:
        raise ValidationFailed({"url": [f"At most {WEBHOOK_URL_MAX_LENGTH} characters."]})
    try:
        webhook_transport.target_resolve(url)
    except webhook_transport.TargetRefused as error:
        raise ValidationFailed({"url": [str(error)]}) from error
    return url


def _events_clean(events: Any) -> list[str]:
    if not isinstance(events, list) or not events:
        raise ValidationFailed({"events": ["A non-empty list of event names."]})
    unknown = [name for name in events if name not in WEBHOOK_EVENTS]
    if unknown:
        known = ", ".join(WEBHOOK_EVENTS)
        names = ", ".join(repr(name) for name in unknown)
        raise ValidationFailed({"events": [f"Unknown event {names}; one of: {known}."]})
    return list(dict.fromkeys(events))


def _fields_clean(**fields: Any) -> dict[str, Any]:
    """Each given field checked; every problem reported at once."""
    cleaners = {"url": _url_clean, "events": _events_clean, "secret": _secret_clean}
    cleaned: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for name, value in fields.items():
        try:
            cleaned[name] = cleaners[name](value)
        except ValidationFailed as error:
            errors.update(error.details)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def webhook_endpoint_create(
    *, actor: User, url: str, events: list[str], secret: str | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of the actor's; returns it with its secret (generated when not given),
    which is shown to its owner this once."""
    given = {"url": url, "events": events} | ({"secret": secret} if secret is not None else {})
    cleaned = _fields_clean(**given)
    secret = cleaned.get("secret") or secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            owner=actor, url=cleaned["url"], events=cleaned["events"], secret=secret
        )
        audit_record_write(
            action="webhook.created",
            target_type=TARGET,
            target_id=endpoint.pk,
            actor=actor,
            changes={"url": [None, endpoint.url], "events": [None, endpoint.events]},
        )
    return endpoint, secret


def webhook_endpoint_update(
    *,
    actor: User,
    endpoint_id: uuid.UUID | str,
    url: str | None = None,
    events: list[str] | None = None,
    secret: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change an endpoint of the actor's. A new `secret` rotates: the old one keeps signing
    (beside it) for SECRET_OVERLAP. `enabled: true` re-enables a disabled endpoint and starts
    its failure count afresh."""
    endpoint = _owned(actor, endpoint_id)
    given = {"url": url, "events": events, "secret": secret}
    cleaned = _fields_clean(**{name: value for name, value in given.items() if value is not None})
    changes: dict[str, list[Any]] = {}
    now = timezone.now()
    for name in ("url", "events"):
        if name in cleaned and cleaned[name] != getattr(endpoint, name):
            changes[name] = [getattr(endpoint, name), cleaned[name]]
            setattr(endpoint, name, cleaned[name])
    if "secret" in cleaned and cleaned["secret"] != endpoint.secret:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + SECRET_OVERLAP
        endpoint.secret = cleaned["secret"]
        changes["secret"] = ["(previous)", "(rotated)"]
    if enabled is not None and enabled != endpoint.enabled:
        changes["enabled"] = [endpoint.enabled, enabled]
        endpoint.enabled = enabled
        endpoint.disabled_at = None if enabled else now
        endpoint.failing_since = None
    if not changes:
        return endpoint
    with transaction.atomic():
        endpoint.save()
        audit_record_write(
            action="webhook.updated",
            target_type=TARGET,
            target_id=endpoint.pk,
            actor=actor,
            changes=changes,
        )
    return endpoint


def webhook_endpoint_delete(*, actor: User, endpoint_id: uuid.UUID | str) -> None:
    """Delete an endpoint of the actor's with its delivery log; attempts still queued find
    their delivery gone and end (`failed`)."""
    endpoint = _owned(actor, endpoint_id)
    with transaction.atomic():
        audit_record_write(
            action="webhook.deleted",
            target_type=TARGET,
            target_id=endpoint.pk,
            actor=actor,
            changes={"url": [endpoint.url, None]},
        )
        endpoint.delete()


def webhook_ping(*, actor: User, endpoint_id: uuid.UUID | str) -> WebhookDelivery:
    """Queue a `ping` delivery to an endpoint of the actor's (disabled ones too: a ping is how
    its owner checks a receiver before enabling it again)."""
    endpoint = _owned(actor, endpoint_id)
    data = {"endpoint": str(endpoint.pk), "message": "Agora webhook test."}
    with transaction.atomic():
        return _delivery_create(endpoint, PING_EVENT, data)


def _owned(actor: User, endpoint_id: uuid.UUID | str) -> WebhookEndpoint:
    from tasks.selectors import webhook_endpoint_get

    endpoint = webhook_endpoint_get(actor=actor, endpoint_id=endpoint_id)
    if endpoint is None:
        raise WebhookEndpointNotFound()
    return endpoint


# --- events → deliveries ----------------------------------------------------------------------


def webhook_event_publish(room: str, event: str, data: dict[str, Any]) -> int:
    """A realtime event was published: queue a delivery to every enabled endpoint subscribed
    to it that may see it (its owner's content, or an admin's endpoint). Returns how many.

    Events of webhook delivery jobs themselves are never delivered (each delivery would
    otherwise announce itself to the endpoints subscribed to `job.*`, without end).
    """
    if event not in WEBHOOK_EVENTS or event not in webhook_subscribed_events():
        return 0
    about = _event_owner(room, data)
    if about is _SKIP:
        return 0
    mine = Q(owner__role=Role.ADMIN) | (Q(owner_id=about) if about is not None else Q())
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(mine, enabled=True).select_related("owner")
        if event in endpoint.events
    ]
    if not endpoints:
        return 0
    with transaction.atomic():
        for endpoint in endpoints:
            _delivery_create(endpoint, event, data)
    return len(endpoints)


_SKIP = object()


def webhook_subscribed_events() -> frozenset[str]:
    """The events at least one enabled endpoint subscribes to: any other event is published
    without a query (so an install without endpoints pays one cache read per event).

    Cache-aside on a version counter, in one round trip (the entry holds the version it was
    computed under). An unreachable cache is a miss: the answer comes from the database.
    """
    found = cache_get_many([SUBSCRIBED_EVENTS_VERSION_KEY, SUBSCRIBED_EVENTS_KEY])
    version = found.get(SUBSCRIBED_EVENTS_VERSION_KEY)
    version = version if isinstance(version, int) else 1
    stored = found.get(SUBSCRIBED_EVENTS_KEY)
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == version:
        return stored[1]
    events = frozenset(
        name
        for names in WebhookEndpoint.objects.filter(enabled=True).values_list("events", flat=True)
        for name in names
    )
    cache_set(SUBSCRIBED_EVENTS_KEY, (version, events), SUBSCRIBED_EVENTS_TTL_SECONDS)
    return events


def webhook_subscriptions_changed() -> None:
    """An endpoint was created, changed or deleted: move the subscribed events' version on.

    Now, so this process's next publish reads the database again (in a test whose
    transaction never commits, too), and once more after the commit, so an entry computed by
    a reader that did not see the uncommitted change yet is never read. The models' signals
    call it (tasks.apps) for every save and delete; a bare `update()` that enables an
    endpoint or adds events must call it itself.
    """
    cache_version_bump(SUBSCRIBED_EVENTS_VERSION_KEY)
    transaction.on_commit(lambda: cache_version_bump(SUBSCRIBED_EVENTS_VERSION_KEY), robust=True)


def _event_owner(room: str, data: dict[str, Any]) -> Any:
    """Whose content the event is about (a user id), None when nobody's, or _SKIP."""
    if room == "feed":
        author = data.get("author")
        return author.get("id") if isinstance(author, dict) else None
    kind, _, ident = room.partition(":")
    if kind == "user":
        return ident
    if kind == "post":
        from content.models import Post

        return Post.objects.filter(pk=ident).values_list("author_id", flat=True).first()
    if kind == "job":
        row = Job.objects.filter(pk=ident).values_list("owner_id", "kind").first()
        if row is None or row[1] == DELIVERY_KIND:
            return _SKIP
        return row[0]
    return None


def _delivery_create(
    endpoint: WebhookEndpoint, event: str, data: dict[str, Any]
) -> WebhookDelivery:
    """Inside the caller's transaction: the delivery row (its id is the `webhook-id`, its body
    fixed now, so every attempt sends and signs the same bytes) and the job that sends it."""
    body = json.dumps(
        {"type": event, "timestamp": iso_time(timezone.now()), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, body=body)
    job = job_start_for(
        owner=endpoint.owner, kind=DELIVERY_KIND, params={"delivery": str(delivery.pk)}
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(job=job)
    delivery.job = job
    return delivery


# --- one attempt ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptOutcome:
    succeeded: bool
    # Retrying cannot help: the delivery or its endpoint is gone, or the endpoint is disabled.
    final: bool
    message: str
    response_status: int | None = None


def webhook_delivery_attempt(*, delivery_id: uuid.UUID | str) -> AttemptOutcome:
    """Send the delivery once, signed for this moment, and record how it went: on the
    delivery (attempts, answer, error) and on its endpoint (its failure streak; disabled after
    WEBHOOK_DISABLE_AFTER_SECONDS of nothing but failures)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return AttemptOutcome(succeeded=False, final=True, message="The delivery was deleted.")
    endpoint = delivery.endpoint
    if not endpoint.enabled and delivery.event != PING_EVENT:
        message = "The endpoint is disabled."
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDeliveryStatus.FAILED, error=message
        )
        return AttemptOutcome(succeeded=False, final=True, message=message)
    now = timezone.now()
    timestamp = int(now.timestamp())
    body = delivery.body.encode()
    msg_id = str(delivery.pk)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures(endpoint, msg_id=msg_id, timestamp=timestamp, body=body),
        "X-Agora-Event": delivery.event,
    }
    response_status: int | None = None
    try:
        answer = webhook_transport.post(endpoint.url, body, headers)
    except webhook_transport.TargetRefused as error:
        error_text = f"Refused: {error}"
    except webhook_transport.SendFailed as error:
        error_text = str(error)
    else:
        response_status = answer.status
        error_text = "" if 200 <= answer.status < 300 else _answer_error(answer)
    succeeded = not error_text
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        response_status=response_status,
        error=error_text[:500],
        status=WebhookDeliveryStatus.SUCCEEDED if succeeded else WebhookDeliveryStatus.FAILED,
    )
    if succeeded:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
            failing_since=None
        )
        return AttemptOutcome(
            succeeded=True, final=True, message="", response_status=response_status
        )
    _failure_record(endpoint, now)
    return AttemptOutcome(
        succeeded=False, final=False, message=error_text, response_status=response_status
    )


def _answer_error(answer: webhook_transport.Answer) -> str:
    excerpt = answer.body[:ERROR_EXCERPT].decode("utf-8", "replace").strip()
    return f"HTTP {answer.status}" + (f": {excerpt}" if excerpt else "")


def _failure_record(endpoint: WebhookEndpoint, now: Any) -> None:
    """Start the endpoint's failure streak, or disable it when the streak is long enough."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    cutoff = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
    if WebhookEndpoint.objects.filter(
        pk=endpoint.pk, enabled=True, failing_since__lte=cutoff
    ).update(enabled=False, disabled_at=now):
        logger.warning(
            "webhook endpoint disabled after failing since %s",
            endpoint.failing_since,
            extra={"endpoint_id": str(endpoint.pk)},
        )
