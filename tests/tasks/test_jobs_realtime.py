"""A job seen live over the WebSocket while a real worker runs it: `job.progress`,
`job.output` and `job.finished` in room `job:<id>` (its owner's only), and the owner's
`job_finished` notification on `user:<id>` and in `GET notifications`."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.factories import UserFactory
from tests.realtime.helpers import receive_until
from tests.tasks.job_rooms import connect_as, events_until_finished, get_as, post_as, subscribe
from tests.tasks.jobs_http import client_for, job_url

pytestmark = pytest.mark.django_db(transaction=True)

NOTIFICATIONS_URL = "/api/v1/notifications"


async def test_the_owner_follows_a_running_job_in_its_room(celery_worker: Any) -> None:
    owner = await sync_to_async(UserFactory)()
    ws = await connect_as(owner)
    job = await post_as(
        owner, "steps", {"steps": 4, "seconds": 0.3}, HTTP_X_REQUEST_ID="req-job-live"
    )
    room = f"job:{job['id']}"

    subscription = await subscribe(ws, room, since=job["id"])
    assert subscription.answer["type"] == "ack"
    events = await events_until_finished(ws, room, subscription)

    progress = [event["data"] for event in events if event["event"] == "job.progress"]
    # One at the start, then one per step (steps are slower than the progress throttle).
    assert progress == [
        {"id": job["id"], "progress": value, "status": "running"} for value in (0, 25, 50, 75, 100)
    ]
    assert [event["event"] for event in events] == ["job.progress"] * 5 + ["job.finished"]
    finished = events[-1]["data"]
    assert finished == await get_as(owner, job_url(job["id"]))
    assert (finished["status"], finished["result"]) == ("succeeded", {"steps": 4})
    # The request that posted the job is named by every event it caused.
    assert {event["request_id"] for event in events} == {"req-job-live"}
    event_ids = [event["id"] for event in events]
    assert event_ids == sorted(event_ids)


async def test_another_user_may_not_subscribe_to_a_job_room(celery_worker: Any) -> None:
    owner, stranger = await sync_to_async(UserFactory)(), await sync_to_async(UserFactory)()
    job = await post_as(owner, "steps", {"steps": 3, "seconds": 0.2})
    ws = await connect_as(stranger)

    answer = (await subscribe(ws, f"job:{job['id']}")).answer

    assert (answer["type"], answer["code"]) == ("error", "forbidden")
    # Nothing of the job reaches them while it runs and ends.
    assert await ws.receive_nothing(timeout=1.2)


async def test_a_kinds_output_streams_as_job_output_events_in_order(celery_worker: Any) -> None:
    owner = await sync_to_async(UserFactory)()
    text = "Es war einmal ein König, 李雷 und Zoë 🚀, die schrieben Stück für Stück."
    ws = await connect_as(owner)
    job = await post_as(owner, "echo", {"text": text, "chunk": 5})
    room = f"job:{job['id']}"
    subscription = await subscribe(ws, room, since=job["id"])

    events = await events_until_finished(ws, room, subscription)

    output = [event["data"] for event in events if event["event"] == "job.output"]
    assert {tuple(sorted(data)) for data in output} == {("chunk", "id")}
    assert {data["id"] for data in output} == {job["id"]}
    assert "".join(data["chunk"] for data in output) == text
    assert len(output) == -(-len(text) // 5)
    assert events[-1]["data"]["result"] == {"chunks": len(output)}


async def test_the_owner_is_notified_when_a_job_finishes(celery_worker: Any) -> None:
    owner = await sync_to_async(UserFactory)()
    ws = await connect_as(owner)
    job = await post_as(owner, "noop", {"tag": "Benachrichtigung"})

    frame = await receive_until(
        ws, lambda f: f["type"] == "event" and f["event"] == "notification", timeout=20
    )

    assert frame["room"] == f"user:{owner.pk}"
    notification = frame["data"]
    assert notification["kind"] == "job_finished"
    assert notification["read"] is False
    assert notification["data"] == {"job": {"id": job["id"], "kind": "noop", "status": "succeeded"}}
    listed = (await get_as(owner, NOTIFICATIONS_URL))["results"]
    assert listed == [notification]


async def test_a_failed_job_notifies_its_owner_with_its_status(celery_worker: Any) -> None:
    owner = await sync_to_async(UserFactory)()
    ws = await connect_as(owner)
    job = await post_as(owner, "refused", {})

    frame = await receive_until(
        ws, lambda f: f["type"] == "event" and f["event"] == "notification", timeout=20
    )

    assert frame["data"]["data"]["job"] == {"id": job["id"], "kind": "refused", "status": "failed"}


async def test_a_cancelled_running_job_ends_its_room_with_job_finished_cancelled(
    celery_worker: Any,
) -> None:
    owner = await sync_to_async(UserFactory)()
    ws = await connect_as(owner)
    job = await post_as(owner, "steps", {"steps": 50, "seconds": 0.05})
    room = f"job:{job['id']}"
    await subscribe(ws, room, since=job["id"])
    await receive_until(
        ws, lambda f: f.get("event") == "job.progress" and f["data"]["progress"] > 0, timeout=20
    )

    cancel = await sync_to_async(lambda: client_for(owner).post(job_url(job["id"], "cancel")))()
    # Its end is announced in two rooms, in no promised order.
    seen: dict[str, Any] = {}
    while len(seen) < 2:
        frame = await receive_until(
            ws, lambda f: f.get("event") in ("job.finished", "notification"), timeout=20
        )
        seen[frame["event"]] = frame["data"]

    assert cancel.status_code == 200
    finished = seen["job.finished"]
    assert (finished["status"], finished["result"]) == ("cancelled", None)
    assert 0 < finished["progress"] < 100
    assert seen["notification"]["data"]["job"] == {
        "id": job["id"],
        "kind": "steps",
        "status": "cancelled",
    }
