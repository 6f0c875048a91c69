"""WebSocket credentials: tickets, tokens (query and subprotocol), and revocation closing 4401."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import WebSocketTicket
from tests.factories import UserFactory, token_pair
from tests.realtime.helpers import assert_closed_with, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


def _ticket_for(access_token: str) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    response = client.post("/api/v1/auth/ws-ticket")
    assert response.status_code == 201
    assert response.json()["expires_in"] == 30
    return response.json()["ticket"]


@database_sync_to_async
def _login():
    user = UserFactory()
    return user, token_pair(user)


async def _pong(ws) -> bool:
    await ws.send_json_to({"type": "ping"})
    return (await ws.receive_json_from(timeout=5)) == {"type": "pong"}


async def test_a_ticket_connects_once() -> None:
    _, pair = await _login()
    ticket = await database_sync_to_async(_ticket_for)(pair.access_token)

    first = await ws_connect(path=f"/ws/v1/?ticket={ticket}")
    second = await ws_connect(path=f"/ws/v1/?ticket={ticket}")

    assert await _pong(first)
    await assert_closed_with(second, 4401)


async def test_an_expired_ticket_is_closed_4401() -> None:
    _, pair = await _login()
    ticket = await database_sync_to_async(_ticket_for)(pair.access_token)
    await database_sync_to_async(
        lambda: WebSocketTicket.objects.update(expires_at="2000-01-01T00:00:00Z")
    )()

    ws = await ws_connect(path=f"/ws/v1/?ticket={ticket}")

    await assert_closed_with(ws, 4401)


async def test_an_access_token_in_the_query_connects() -> None:
    _, pair = await _login()

    ws = await ws_connect(path=f"/ws/v1/?token={pair.access_token}")

    assert await _pong(ws)


async def test_the_bearer_subprotocol_pair_connects_and_is_echoed() -> None:
    _, pair = await _login()

    ws = await ws_connect(subprotocols=["bearer", pair.access_token])

    assert await _pong(ws)


@pytest.mark.parametrize("query", ["token=garbage", "ticket=unknown", "token="])
async def test_bad_credentials_are_closed_4401(query: str) -> None:
    ws = await ws_connect(path=f"/ws/v1/?{query}")

    await assert_closed_with(ws, 4401)


async def test_a_bad_token_does_not_fall_back_to_the_session(session_cookie) -> None:
    _, cookie = session_cookie

    ws = await ws_connect(cookie=cookie, path="/ws/v1/?token=forged")

    await assert_closed_with(ws, 4401)


async def test_a_refresh_token_is_not_accepted_as_a_websocket_credential() -> None:
    _, pair = await _login()

    ws = await ws_connect(path=f"/ws/v1/?token={pair.refresh_token}")

    await assert_closed_with(ws, 4401)


async def test_logout_all_closes_open_connections_4401() -> None:
    _, pair = await _login()
    ws = await ws_connect(path=f"/ws/v1/?token={pair.access_token}")
    await _pong(ws)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")
    await database_sync_to_async(client.post)("/api/v1/auth/logout-all")

    await assert_closed_with(ws, 4401)


async def test_logging_out_one_login_closes_only_its_connections() -> None:
    user, first = await _login()
    second = await database_sync_to_async(token_pair)(user)
    ending = await ws_connect(path=f"/ws/v1/?token={first.access_token}")
    staying = await ws_connect(path=f"/ws/v1/?token={second.access_token}")

    await database_sync_to_async(APIClient().post)(
        "/api/v1/auth/logout", {"refresh_token": first.refresh_token}, format="json"
    )

    await assert_closed_with(ending, 4401)
    assert await _pong(staying)


async def test_deactivation_closes_open_connections_4401(session_cookie) -> None:
    user, cookie = session_cookie
    ws = await ws_connect(cookie=cookie)
    await _pong(ws)

    from accounts.services import user_update_by_admin
    from tests.factories import AdminFactory

    admin = await database_sync_to_async(AdminFactory)()
    await database_sync_to_async(user_update_by_admin)(actor=admin, user=user, is_active=False)

    await assert_closed_with(ws, 4401)


async def test_a_connection_closes_4401_when_its_token_expires() -> None:
    _user, pair = await _login()
    token = AccessToken(pair.access_token)
    token.set_exp(lifetime=timedelta(seconds=2))

    ws = await ws_connect(path=f"/ws/v1/?token={token}")

    assert await _pong(ws)
    await assert_closed_with(ws, 4401)


async def test_a_token_in_the_query_never_reaches_the_logs(caplog) -> None:
    caplog.set_level("INFO")
    _, pair = await _login()

    ws = await ws_connect(path=f"/ws/v1/?token={pair.access_token}&x=1")
    await _pong(ws)

    logged = " ".join(repr(record.__dict__) for record in caplog.records)
    assert "ws.connected" in logged
    assert pair.access_token not in logged
    assert pair.access_token.split(".")[2] not in logged


async def test_ending_a_login_from_the_sessions_list_closes_its_connections_4401() -> None:
    user, first = await _login()
    second = await database_sync_to_async(token_pair)(user)
    ws = await ws_connect(path=f"/ws/v1/?token={second.access_token}")
    await _pong(ws)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first.access_token}")
    listed = await database_sync_to_async(client.get)("/api/v1/auth/sessions")
    other_id = next(s["id"] for s in listed.json()["results"] if not s["current"])

    await database_sync_to_async(client.delete)(f"/api/v1/auth/sessions/{other_id}")

    await assert_closed_with(ws, 4401)


def _key_ticket(user) -> tuple[str, object]:
    from accounts.services import api_key_create

    key, raw = api_key_create(user=user, name="bot")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    response = client.post("/api/v1/auth/ws-ticket")
    assert response.status_code == 201
    return response.json()["ticket"], key


async def test_revoking_the_api_key_that_asked_for_a_ticket_closes_its_connection_4401() -> None:
    from accounts.services import api_key_revoke

    user, pair = await _login()
    ticket, key = await database_sync_to_async(_key_ticket)(user)
    by_key = await ws_connect(path=f"/ws/v1/?ticket={ticket}")
    by_token = await ws_connect(path=f"/ws/v1/?token={pair.access_token}")
    assert await _pong(by_key)

    await database_sync_to_async(api_key_revoke)(key=key)

    await assert_closed_with(by_key, 4401)
    assert await _pong(by_token)


async def test_a_ticket_of_a_revoked_api_key_does_not_connect() -> None:
    from accounts.services import api_key_revoke

    user, _ = await _login()
    ticket, key = await database_sync_to_async(_key_ticket)(user)
    await database_sync_to_async(api_key_revoke)(key=key)

    ws = await ws_connect(path=f"/ws/v1/?ticket={ticket}")

    await assert_closed_with(ws, 4401)
