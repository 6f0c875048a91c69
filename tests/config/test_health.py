"""Liveness, database and readiness probes, against the real components and when they fail."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from tests.live import http_get, live_server


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_liveness_answers_without_touching_the_database(
    api_client: APIClient, path: str, django_assert_num_queries
) -> None:
    with django_assert_num_queries(0):
        response = api_client.get(path)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["uptime_seconds"] >= 0


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health/db", "/health/db/"])
def test_database_probe_reports_vendor_and_latency(api_client: APIClient, path: str) -> None:
    response = api_client.get(path)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["vendor"] in ("sqlite", "postgresql")
    assert body["latency_ms"] >= 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_probe_reports_pool_figures_on_postgresql(api_client: APIClient) -> None:
    body = api_client.get("/health/db").json()

    assert body["vendor"] == "postgresql"
    assert set(body["pool"]) == {"min", "max", "size", "available", "waiting"}
    assert body["pool"]["max"] >= body["pool"]["min"] >= 1


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health/ready", "/health/ready/"])
def test_readiness_checks_every_component(api_client: APIClient, path: str) -> None:
    response = api_client.get(path)

    body = response.json()
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "broker"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert body["checks"]["channel_layer"]["status"] == "ok"


@pytest.mark.redis
@pytest.mark.django_db
def test_readiness_uses_redis_when_configured(api_client: APIClient) -> None:
    checks = api_client.get("/health/ready").json()["checks"]

    assert checks["cache"]["backend"] == "SharedPoolRedisCache"
    assert checks["channel_layer"]["backend"] == "redis"
    assert checks["broker"]["transport"] == "redis"
    assert checks["broker"]["status"] == "ok"


@pytest.mark.live_server
@pytest.mark.django_db(transaction=True)
def test_live_server_is_ready_with_every_component_ok() -> None:
    with live_server() as base_url:
        status, _, raw = http_get(f"{base_url}/health/ready")

    body = json.loads(raw)
    assert status == 200, body
    assert body["status"] == "ok"
    assert {check["status"] for check in body["checks"].values()} == {"ok"}


@pytest.mark.live_server
@pytest.mark.django_db(transaction=True)
def test_redis_down_answers_503_naming_cache_channel_layer_and_broker() -> None:
    with live_server(REDIS_URL="redis://127.0.0.1:9/0") as base_url:
        status, _, raw = http_get(f"{base_url}/health/ready")

    body = json.loads(raw)
    assert status == 503
    assert body["checks"]["database"]["status"] == "ok"
    assert sorted(body["error"]["details"]["failed"]) == ["broker", "cache", "channel_layer"]
