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
