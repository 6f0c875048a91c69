"""The shared request path kept lean: its answers are those of the stock components it replaces.

The JSON renderer writes DRF's bytes, the cached CSP header is django-csp's, a bearer request
costs one query and one Redis round trip, and a token verified once is still refused the
moment its login ends or it expires.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest
from csp.utils import build_policy
from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

import accounts.authentication
from accounts.models import LoginSession, User
from accounts.representations import user_representation
from accounts.serializers import UserOutputSerializer
from accounts.services import login_session_revoke, login_session_start
from accounts.tokens import access_token_read
from config.api.renderers import OrjsonRenderer
from config.http.middleware import ContentSecurityPolicyMiddleware
from tests.accounts.helpers import authed
from tests.factories import UserFactory

ME_URL = "/api/v1/users/me"

UTC_TIME = dt.datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)
SAMPLES: list[Any] = [
    {"title": 'Müller and O\'Brien: 李雷 🚀 <b>&amp;</b> "quoted" \\ back\tslash\n'},
    {"separators": "one\u2028two\u2029three", "nested": ["\u2028", {"\u2029": "x"}]},
    {"control": "\x00\x01\x1f\x7f", "empty": "", "null": None, "flags": [True, False]},
    {"numbers": [0, -1, 2**63 - 1, -(2**63), 1.5, 0.1, -2.25, 1e-3, 123456.789]},
    {"when": UTC_TIME, "whole_second": UTC_TIME.replace(microsecond=0)},
    {"offset": UTC_TIME.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))},
    {"naive": dt.datetime(2025, 1, 2, 3, 4, 5), "day": dt.date(2025, 1, 2)},
    {"clock": dt.time(3, 4, 5, 6), "id": uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")},
    {"decimal": Decimal("12.50"), "lazy": gettext_lazy("Not found."), "delta": dt.timedelta(1)},
    {"bytes": b"raw", "set": {1}, "tuple": (1, "two"), "int_keys": {1: "a", 2: "b"}},
    OrderedDict(
        [("b", 1), ("a", ReturnList([ReturnDict({"x": 1}, serializer=None)], serializer=None))]
    ),
    [],
    {},
    "just a string",
    {"beyond_64_bits": 2**70},
]


@pytest.mark.parametrize("data", SAMPLES)
def test_the_renderer_writes_drfs_bytes(data: Any) -> None:
    assert OrjsonRenderer().render(data) == JSONRenderer().render(data)


@pytest.mark.parametrize("accept", ["application/json; indent=4", "application/json; indent=0"])
def test_a_pretty_printing_accept_header_is_honoured_as_drf_does(accept: str) -> None:
    data = {"a": [1, {"b": "ü\u2028"}]}

    assert OrjsonRenderer().render(data, accept) == JSONRenderer().render(data, accept)


def test_nothing_renders_as_no_body() -> None:
    assert OrjsonRenderer().render(None) == b""


def test_the_api_renders_with_the_fast_renderer() -> None:
    assert settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] == [
        "config.api.renderers.OrjsonRenderer"
    ]


class _StockUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = UserOutputSerializer.Meta.fields


@pytest.mark.django_db
@pytest.mark.parametrize("last_login", [None, UTC_TIME])
def test_the_users_representation_is_what_drf_made_of_it(last_login: dt.datetime | None) -> None:
    user = UserFactory(last_login=last_login, bio="Grüße\u2028🌍")

    assert user_representation(user) == dict(_StockUserSerializer(user).data)
    assert JSONRenderer().render(user_representation(user)) == JSONRenderer().render(
        _StockUserSerializer(user).data
    )


@pytest.mark.django_db
def test_a_bearer_request_reads_user_and_login_in_one_query(django_assert_num_queries) -> None:
    user = UserFactory()
    client = authed(login_session_start(user=user).access_token)

    for _ in range(2):  # the second time with the token already verified
        with django_assert_num_queries(1):
            response = client.get(ME_URL)
        assert response.status_code == 200
        assert response.json() == user_representation(user)


@pytest.mark.django_db
def test_an_ended_login_refuses_its_verified_token_at_once() -> None:
    user = UserFactory()
    client = authed(login_session_start(user=user).access_token)
    assert client.get(ME_URL).status_code == 200

    login_session_revoke(session=LoginSession.objects.get(user=user))

    response = client.get(ME_URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


@pytest.mark.django_db
def test_an_expired_login_refuses_its_verified_token_at_once() -> None:
    user = UserFactory()
    client = authed(login_session_start(user=user).access_token)
    assert client.get(ME_URL).status_code == 200

    LoginSession.objects.filter(user=user).update(expires_at=dt.datetime.now(dt.UTC))

    assert client.get(ME_URL).status_code == 401


@pytest.mark.django_db
def test_a_verified_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    import jwt.api_jwt

    user = UserFactory()
    client = authed(login_session_start(user=user).access_token)
    assert client.get(ME_URL).status_code == 200
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    later = dt.datetime.now(dt.UTC) + lifetime + dt.timedelta(seconds=1)

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:
            return later

    # Both clocks: the one checking a verified token and PyJWT's, which checks a new one.
    monkeypatch.setattr(accounts.authentication, "aware_utcnow", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)
    response = client.get(ME_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


@pytest.mark.django_db
def test_token_reads_outside_drf_recheck_the_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    import jwt.api_jwt

    import accounts.tokens

    user = UserFactory()
    raw = login_session_start(user=user).access_token
    first = access_token_read(raw)
    assert first is not None
    assert first.user_id == str(user.pk)
    assert access_token_read(raw) == first
    assert access_token_read(raw[:-2] + "xx") is None
    later = first.expires_at + dt.timedelta(seconds=1)

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:
            return later

    monkeypatch.setattr(accounts.tokens, "datetime", Later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)

    assert access_token_read(raw) is None


def _csp_response(**attributes: Any) -> HttpResponse:
    request = RequestFactory().get("/live/")
    response = HttpResponse("<p>page</p>")
    for name, value in attributes.items():
        setattr(response, name, value)
    middleware = ContentSecurityPolicyMiddleware(lambda request: response)
    return middleware(request)


def test_the_policy_header_is_django_csps() -> None:
    assert _csp_response()["Content-Security-Policy"] == build_policy()


def test_a_changed_policy_setting_is_followed() -> None:
    directives = {"default-src": ["'none'"], "img-src": ["'self'"]}
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": directives}):
        header = _csp_response()["Content-Security-Policy"]
    assert header in ("default-src 'none'; img-src 'self'", "img-src 'self'; default-src 'none'")
    assert _csp_response()["Content-Security-Policy"] == build_policy()


def test_a_responses_own_policy_parts_are_applied() -> None:
    response = _csp_response(_csp_update={"img-src": ["https://images.example"]})

    assert "https://images.example" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_an_exempt_page_gets_no_policy() -> None:
    assert "Content-Security-Policy" not in _csp_response(_csp_exempt=True)


def test_a_report_only_policy_is_sent_as_such() -> None:
    directives = {"default-src": ["'self'"], "report-uri": "/csp-reports"}
    with override_settings(CONTENT_SECURITY_POLICY_REPORT_ONLY={"DIRECTIVES": directives}):
        response = _csp_response()
    assert "report-uri /csp-reports" in response["Content-Security-Policy-Report-Only"]
    assert "Content-Security-Policy-Report-Only" not in _csp_response()


@pytest.mark.redis
def test_the_cache_shares_one_redis_client_per_pool() -> None:
    backend = caches["default"]._cache

    assert backend.get_client(write=True) is backend.get_client(write=True)
    caches["default"].set("request-path-probe", 1)
    assert caches["default"].get("request-path-probe") == 1


@pytest.mark.redis
@pytest.mark.django_db
def test_a_bearer_request_makes_one_redis_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    import redis.connection

    client = authed(login_session_start(user=UserFactory()).access_token)
    sends: list[Any] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        sends.append(command)
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    response = client.get(ME_URL)

    assert response.status_code == 200
    assert response["RateLimit-Limit"]
    assert len(sends) == 1


def test_the_api_client_sees_the_fast_renderers_bytes(db: None) -> None:
    user = UserFactory(display_name="Zoë\u2028🚀")
    response = authed(login_session_start(user=user).access_token).get(ME_URL)

    assert response.content == JSONRenderer().render(user_representation(user))
    assert b"\\u2028" in response.content


def test_an_anonymous_client_is_unaffected(api_client: APIClient, db: None) -> None:
    assert api_client.get(ME_URL).status_code == 401
