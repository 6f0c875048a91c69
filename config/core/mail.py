"""Product mail: one message from two templates, its text and its HTML part, in one look.

A mail is a pair of templates, `<name>.txt` and `<name>.html`, extending `emails/base.txt` and
`emails/base.html` (config/templates/emails/): the base gives every mail the same header,
greeting, footer and button, and names the site by SITE_URL. Links in mails are built from
SITE_URL by the caller, never from a request's Host header. Sending happens in Celery tasks
(tasks.tasks), which retry the failures `mail_failure_is_transient` calls transient, after
`mail_retry_delay`.
"""

from __future__ import annotations

import random
import smtplib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

SITE_NAME = "Agora"


def site_link(path: str, **query: str) -> str:
    """An absolute link to `path` on the public site (SITE_URL), with `query` if any."""
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{settings.SITE_URL}{path}{suffix}"


def mail_build(
    *, template: str, subject: str, to: Sequence[str], context: Mapping[str, Any]
) -> EmailMultiAlternatives:
    """The message of `template` (`accounts/emails/verification` for its .txt and .html)."""
    full = {"site_name": SITE_NAME, "site_url": settings.SITE_URL, "subject": subject, **context}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", full),
        to=list(to),
    )
    message.attach_alternative(render_to_string(f"{template}.html", full), "text/html")
    return message


def mail_send(
    *, template: str, subject: str, to: Sequence[str], context: Mapping[str, Any]
) -> None:
    """Build and send it now (from a worker: the caller queues a task, not this)."""
    mail_build(template=template, subject=subject, to=to, context=context).send()


def mail_failure_is_transient(error: BaseException) -> bool:
    """Whether sending again later may work: the server unreachable, gone mid-way or busy
    (an SMTP 4xx), as opposed to a refusal that will not change (5xx: a bad address, bad
    credentials)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return False
    return isinstance(error, OSError)


def mail_retry_delay(retries: int) -> float:
    """Seconds before retry number `retries + 1`: EMAIL_RETRY_BASE_SECONDS doubling, with full
    jitter (so mails that failed together do not all come back together), at most
    EMAIL_RETRY_MAX_SECONDS."""
    ceiling = min(settings.EMAIL_RETRY_MAX_SECONDS, settings.EMAIL_RETRY_BASE_SECONDS * 2**retries)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret  # nosec B311
