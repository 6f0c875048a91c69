"""The account mails and notices: a text and an HTML part in one look, links from SITE_URL,
sent by a real worker that retries a mail server's transient failures (a local SMTP server,
tests/accounts/fake_smtp.py); and Django's `manage.py sendtestemail`."""

from __future__ import annotations

import email
import re
import smtplib
import time
from collections.abc import Callable
from email.message import Message
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command

from accounts.emails import (
    password_changed_notice_send_now,
    password_reset_email_send_now,
    registration_notice_send_now,
    verification_email_send_now,
)
from config.core.mail import mail_failure_is_transient, mail_retry_delay
from tests.accounts.fake_smtp import FakeSMTP
from tests.accounts.helpers import token_in, wait_for_mail
from tests.factories import UserFactory

SITE = "https://agora.example.org"
RESET_URL = "/api/v1/auth/password-reset"
NAME = "Zoë O'Brien <3"

MAILS: dict[str, tuple[Callable[[Any], None], str, str]] = {
    "verification": (
        verification_email_send_now,
        "Confirm your Agora email address",
        "/verify-email?token=",
    ),
    "password reset": (
        password_reset_email_send_now,
        "Reset your Agora password",
        "/password-reset/confirm?token=",
    ),
    "registration notice": (
        registration_notice_send_now,
        "Someone tried to register with your email",
        "/password-reset",
    ),
    "password changed": (
        password_changed_notice_send_now,
        "Your Agora password was changed",
        "/password-reset",
    ),
}


@pytest.fixture
def site(settings) -> None:
    settings.SITE_URL = SITE


def html_of(message: EmailMultiAlternatives) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


@pytest.mark.django_db
@pytest.mark.parametrize(("send", "subject", "path"), MAILS.values(), ids=MAILS.keys())
def test_each_account_mail_has_a_text_and_an_html_part_linking_to_the_site(
    site, send: Callable[[Any], None], subject: str, path: str
) -> None:
    user = UserFactory(display_name=NAME)

    send(user)

    [message] = mail.outbox
    assert (message.subject, message.to) == (subject, [user.email])
    html = html_of(message)
    assert f"{SITE}{path}" in message.body
    assert f'href="{SITE}{path}' in html
    # Every link of either part is on the site.
    links = re.findall(r"https?://[^\s\"<]+", message.body + html)
    assert links
    assert all(link.startswith(SITE) for link in links)
    # The name as written in the text, escaped in the HTML.
    assert f"Hello {NAME}," in message.body
    assert "Hello Zoë O&#x27;Brien &lt;3," in html
    assert "<" not in message.body.replace(NAME, "")


@pytest.mark.django_db
@pytest.mark.parametrize(("send", "subject", "path"), MAILS.values(), ids=MAILS.keys())
def test_every_mail_has_the_same_frame(
    site, send: Callable[[Any], None], subject: str, path: str
) -> None:
    send(UserFactory())

    [message] = mail.outbox
    html = html_of(message)
    assert html.startswith("<!DOCTYPE html>")
    assert f"<title>{subject}</title>" in html
    assert f'<a href="{SITE}" style="color:#ffffff;' in html
    assert f'You get this email because of your account at <a href="{SITE}"' in html
    assert message.body.rstrip().endswith(
        f"Agora · {SITE}\nYou get this email because of your account at {SITE}."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("send", [verification_email_send_now, password_reset_email_send_now])
def test_both_parts_carry_the_same_token(site, send: Callable[[Any], None]) -> None:
    send(UserFactory())

    [message] = mail.outbox
    token = token_in(message)
    assert token in html_of(message)


def test_the_worker_sends_a_reset_mail_with_both_parts(site, celery_worker, api_client) -> None:
    user = UserFactory()

    api_client.post(RESET_URL, {"email": user.email}, format="json")

    [message] = wait_for_mail()
    assert message.to == [user.email]
    assert f"{SITE}/password-reset/confirm?token=" in html_of(message)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition()


def parts(raw: bytes) -> dict[str, Message]:
    message = email.message_from_bytes(raw)
    return {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}


def test_a_busy_mail_server_is_retried_until_the_mail_goes_out(
    site, settings, celery_worker, api_client
) -> None:
    user = UserFactory()
    with FakeSMTP(busy=2) as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_RETRY_BASE_SECONDS = 0.2

        api_client.post(RESET_URL, {"email": user.email}, format="json")
        wait_for(lambda: server.messages)

    assert server.connections == 3
    [raw] = server.messages
    received = parts(raw)
    assert set(received) == {"text/plain", "text/html"}
    text = received["text/plain"].get_payload(decode=True).decode()
    html = received["text/html"].get_payload(decode=True).decode()
    assert f"{SITE}/password-reset/confirm?token=" in text
    assert f'href="{SITE}/password-reset/confirm?token=' in html


TRANSIENT = {
    "connection refused": ConnectionRefusedError(),
    "server gone": smtplib.SMTPServerDisconnected("gone"),
    "busy at connect": smtplib.SMTPConnectError(421, b"busy"),
    "mailbox busy": smtplib.SMTPDataError(451, b"try later"),
    "recipient greylisted": smtplib.SMTPRecipientsRefused({"a@example.org": (450, b"later")}),
}
PERMANENT = {
    "bad credentials": smtplib.SMTPAuthenticationError(535, b"no"),
    "no such user": smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"unknown")}),
    "message refused": smtplib.SMTPDataError(554, b"spam"),
    "no STARTTLS": smtplib.SMTPNotSupportedError("STARTTLS"),
}


@pytest.mark.parametrize("error", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_failures_are_retried(error: Exception) -> None:
    assert mail_failure_is_transient(error)


@pytest.mark.parametrize("error", PERMANENT.values(), ids=PERMANENT.keys())
def test_refusals_that_will_not_change_are_not_retried(error: Exception) -> None:
    assert not mail_failure_is_transient(error)


def test_retry_delays_double_with_jitter_up_to_the_cap(settings) -> None:
    settings.EMAIL_RETRY_BASE_SECONDS, settings.EMAIL_RETRY_MAX_SECONDS = 10.0, 600.0

    delays = [mail_retry_delay(retries) for retries in range(8)]

    for retries, delay in enumerate(delays):
        ceiling = min(600.0, 10.0 * 2**retries)
        assert ceiling / 2 <= delay <= ceiling


def test_sendtestemail_sends_to_the_addresses_given(settings) -> None:
    call_command("sendtestemail", "ops@example.org", "zoë@example.org")

    [message] = mail.outbox
    assert message.to == ["ops@example.org", "zoë@example.org"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL


def test_sendtestemail_writes_to_the_admins(settings) -> None:
    settings.ADMINS = [("", "ops@example.org")]

    call_command("sendtestemail", "--admins")

    [message] = mail.outbox
    assert message.to == ["ops@example.org"]
    assert message.from_email == settings.SERVER_EMAIL
