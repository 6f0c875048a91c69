"""The client address: REMOTE_ADDR, or X-Forwarded-For as far as our own proxies wrote it."""

from __future__ import annotations

import logging

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from config.http.client_address import client_ip
from config.http.rate_limits import check_rate_limit_settings


def ip_of(remote_addr: str, forwarded_for: str | None = None) -> str:
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_ip(RequestFactory().get("/", **headers))


@pytest.mark.parametrize(
    ("trusted", "remote_addr", "forwarded_for", "expected"),
    [
        pytest.param([], "203.0.113.9", "192.0.2.1", "203.0.113.9", id="no-proxies-header-ignored"),
        pytest.param(
            ["10.0.0.1"], "203.0.113.9", "192.0.2.1", "203.0.113.9", id="untrusted-sender-ignored"
        ),
        pytest.param(["10.0.0.1"], "10.0.0.1", "192.0.2.1", "192.0.2.1", id="one-trusted-proxy"),
        pytest.param(
            ["10.0.0.0/8"], "10.0.0.1", "192.0.2.1, 10.0.0.2", "192.0.2.1", id="chain-of-proxies"
        ),
        pytest.param(
            ["10.0.0.0/8"], "10.0.0.1", "6.6.6.6, 192.0.2.1", "192.0.2.1", id="spoofed-left-ignored"
        ),
        pytest.param(
            ["10.0.0.0/8"],
            "10.0.0.1",
            "192.0.2.1, not-an-ip, 10.0.0.2",
            "192.0.2.1",
            id="invalid-entry-skipped",
        ),
        pytest.param(
            ["10.0.0.0/8"], "10.0.0.1", "192.0.2.1:4711", "10.0.0.1", id="address-with-port-skipped"
        ),
        pytest.param(["10.0.0.0/8"], "10.0.0.1", None, "10.0.0.1", id="no-header-remote-addr"),
        pytest.param(
            ["10.0.0.0/8"], "10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3", id="all-trusted-leftmost"
        ),
        pytest.param(
            ["2001:db8::/32"],
            "2001:db8::1",
            "2001:db8:ffff::1, 2a00:1450::1 , 2001:db8::2",
            "2a00:1450::1",
            id="ipv6",
        ),
        pytest.param(
            ["10.0.0.0/8"], "::ffff:10.0.0.1", "192.0.2.1", "192.0.2.1", id="ipv4-mapped-sender"
        ),
        pytest.param([], "2001:DB8:0::1", None, "2001:db8::1", id="normalised"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_from_trusted_proxies(
    settings, trusted: list[str], remote_addr: str, forwarded_for: str | None, expected: str
) -> None:
    settings.TRUSTED_PROXIES = trusted

    assert ip_of(remote_addr, forwarded_for) == expected


def test_an_invalid_trusted_proxy_fails_the_system_check(settings) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "proxy.internal"]

    assert [error.id for error in check_rate_limit_settings()] == ["agora.E002"]


@pytest.mark.django_db
def test_the_access_log_records_the_forwarded_client_address(
    settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    with caplog.at_level(logging.INFO, logger="agora.access"):
        APIClient().get("/health", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1")

    [record] = [r for r in caplog.records if r.name == "agora.access"]
    assert record.ip == "192.0.2.1"


LONG_AGENT = "Mozilla/5.0 (X11; Linux) " + "x" * 2000


def test_an_origin_keeps_the_same_cut_of_the_user_agent_wherever_it_is_read() -> None:
    from config.core.context import USER_AGENT_MAX_LENGTH, RequestOrigin
    from config.http.client_address import request_origin, scope_origin

    http = request_origin(RequestFactory().get("/", HTTP_USER_AGENT=LONG_AGENT))
    asgi = scope_origin(
        {"client": ("127.0.0.1", 5000), "headers": [(b"user-agent", LONG_AGENT.encode())]}
    )
    direct = RequestOrigin(ip="127.0.0.1", user_agent=LONG_AGENT)

    assert http == asgi == direct
    assert direct.user_agent == LONG_AGENT[:USER_AGENT_MAX_LENGTH]


def test_an_asgi_origin_believes_x_forwarded_for_only_from_trusted_proxies(settings) -> None:
    from config.http.client_address import scope_origin

    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    scope = {"client": ("10.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"192.0.2.7")]}
    untrusted = {"client": ("203.0.113.9", 5000), "headers": [(b"x-forwarded-for", b"192.0.2.7")]}

    assert scope_origin(scope).ip == "192.0.2.7"
    assert scope_origin(untrusted).ip == "203.0.113.9"


@pytest.mark.django_db
def test_a_login_records_the_address_and_agent_as_its_audit_record_does() -> None:
    from accounts.models import LoginSession
    from audits.models import AuditRecord
    from config.core.context import USER_AGENT_MAX_LENGTH
    from tests.factories import PASSWORD, UserFactory

    user = UserFactory()

    response = APIClient().post(
        "/api/v1/auth/token",
        {"grant_type": "password", "username": user.username, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT=LONG_AGENT,
    )

    assert response.status_code == 200
    session = LoginSession.objects.get(user=user)
    record = AuditRecord.objects.get(action="user.login_succeeded", target_id=str(user.pk))
    assert (session.ip, session.user_agent) == ("198.51.100.4", LONG_AGENT[:USER_AGENT_MAX_LENGTH])
    assert (record.ip, record.user_agent) == (session.ip, session.user_agent)
