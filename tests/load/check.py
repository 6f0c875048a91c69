"""The checker of a load run: what the clients recorded (tests/load/locustfile.py's JSON lines)
against what the database holds (tests/load/facts.py), the outages the chaos caused, and the
server processes' memory. Pure functions over plain data, so tests/test_load_checker.py runs
them on a tiny recorded sample.

What it proves (each failure is a line in `Report.problems`):

- every write answered 2xx (sign-up, verification, login, post, comment) is in the database
  with its audit record, and the audit chain verifies;
- every job answered 202 ended `succeeded`, and its owner was told exactly once (one
  `job_finished` notification per job);
- every WebSocket client, over each span it stayed subscribed (reconnects resumed with
  `complete: true` continue a span; `complete: false` ends one: the client was told to reload),
  received every event of its room (by event id) whose id's time lies inside the span;
  event ids come from every client's view of the room (a UUIDv7 carries its time);
- no 500 (no 5xx but 503) at all, and 503s or unanswered requests only while a dependency was
  down (an outage window plus RECOVERY_GRACE seconds); no 4xx but a documented 429;
- every server process's memory is flat after warm-up: the median RSS of its last quarter of
  samples is at most FLAT_GROWTH above the median of its first quarter after warm-up (the
  run's warm-up, and a process's own first PROCESS_WARM_UP seconds), over at least 8 samples.

Also counted, not judged: acknowledged comments, sent while a socket was subscribed to their
post's room, whose `comment.created` event reached no socket at all (broadcast is best effort
after the commit: while Redis is down the write stands and the event is never published, so it
has no id to miss).
"""

from __future__ import annotations

import json
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECOVERY_GRACE = 20.0  # seconds after a dependency is back in which 503s are still expected
SPAN_EDGE = 3.0  # seconds at a span's end an event may still be in flight
FLAT_GROWTH = 0.10  # memory: allowed growth of the late median over the early one
PROCESS_WARM_UP = 60.0  # a process started during the run (a replaced worker) warms up too
DOCUMENTED_429 = ("rate_limited", "account_locked")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def fail(self, text: str) -> None:
        self.problems.append(text)


def read_records(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def facts_request(records: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """The ids the database must be asked about."""
    request: dict[str, set[str]] = defaultdict(set)
    for item in records:
        if item["k"] == "write":
            if item["what"] in ("register", "verify"):
                request["usernames"].add(item["username"])
            elif item["what"] == "post":
                request["posts"].add(item["id"])
            elif item["what"] == "comment":
                request["comments"].add(item["id"])
        elif item["k"] == "job":
            request["jobs"].add(item["id"])
    return {key: sorted(request.get(key, ())) for key in ("usernames", "posts", "comments", "jobs")}


def check_writes(records: list[dict[str, Any]], facts: dict[str, Any], report: Report) -> None:
    audits: dict[str, int] = facts["audits"]
    users = facts["users"]
    posts, comments = set(facts["posts"]), set(facts["comments"])
    logins: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    for item in records:
        if item["k"] != "write":
            continue
        what = item["what"]
        counted[what] += 1
        if what in ("register", "verify"):
            user = users.get(item["username"])
            if user is None:
                report.fail(f"{what} of {item['username']} answered 2xx; no such user")
                continue
            action = "user.registered" if what == "register" else "user.email_verified"
            if what == "verify" and not user["email_verified"]:
                report.fail(f"verification of {item['username']} answered 200; not verified")
            if not audits.get(f"{action} {user['id']}"):
                report.fail(f"{what} of {item['username']}: no {action} audit record")
        elif what == "login":
            logins[item["user"]] += 1
        elif what in ("post", "comment"):
            present = posts if what == "post" else comments
            if item["id"] not in present:
                report.fail(f"{what} {item['id']} answered 201; not in the database")
            if not audits.get(f"{what}.created {item['id']}"):
                report.fail(f"{what} {item['id']}: no {what}.created audit record")
    for user, count in logins.items():
        if audits.get(f"user.login_succeeded {user}", 0) < count:
            report.fail(f"user {user}: {count} logins answered 200, fewer audit records")
    chain = facts["chain"]
    if chain["problems"] or chain["unsealed"]:
        report.fail(
            f"audit chain: {chain['problems']} problems, {chain['unsealed']} unsealed; first: "
            f"{chain['first_problem']}"
        )
    report.figures["writes acknowledged"] = dict(counted)
    report.figures["audit chain"] = (
        f"intact, {chain['records']} records"
        if not (chain["problems"] or chain["unsealed"])
        else "BROKEN"
    )


def check_jobs(records: list[dict[str, Any]], facts: dict[str, Any], report: Report) -> None:
    accepted = {item["id"] for item in records if item["k"] == "job"}
    attempts: Counter[int] = Counter()
    for job_id in sorted(accepted):
        job = facts["jobs"].get(job_id)
        if job is None:
            report.fail(f"job {job_id} answered 202; not in the database")
            continue
        attempts[job["attempts"]] += 1
        if job["status"] != "succeeded":
            report.fail(f"job {job_id} ended {job['status']}")
        told = facts["job_notifications"].get(job_id, 0)
        if told != 1:
            report.fail(f"job {job_id}: its owner was told {told} times that it finished")
    report.figures["jobs accepted"] = len(accepted)
    report.figures["jobs by attempts"] = dict(sorted(attempts.items()))


def _in_outage(moment: float, outages: list[tuple[float, float]]) -> bool:
    return any(start <= moment <= end + RECOVERY_GRACE for start, end in outages)


def check_statuses(
    records: list[dict[str, Any]], outages: list[tuple[float, float]], report: Report
) -> None:
    statuses: Counter[int] = Counter()
    outside: Counter[str] = Counter()
    for item in records:
        if item["k"] != "http":
            continue
        status = item["s"]
        statuses[status] += 1
        if status == 500 or (status >= 500 and status != 503):
            outside[f"{status} {item['n']}"] += 1
        elif status in (0, 503) and not (
            _in_outage(item["t0"], outages) or _in_outage(item["t1"], outages)
        ):
            outside[f"{status or 'no answer'} {item['n']} outside an outage"] += 1
        elif 400 <= status < 500 and not (status == 429 and item.get("c") in DOCUMENTED_429):
            outside[f"{status} {item.get('c')} {item['n']}"] += 1
    for what, count in sorted(outside.items()):
        report.fail(f"{count} x {what}")
    report.figures["HTTP answers by status"] = dict(sorted(statuses.items()))


def event_time(event_id: str) -> float:
    """Seconds since the epoch of a UUIDv7's timestamp."""
    return (uuid.UUID(event_id).int >> 80) / 1000


def check_sockets(records: list[dict[str, Any]], report: Report) -> None:
    sockets = [item for item in records if item["k"] == "ws"]
    room_events: dict[str, set[str]] = defaultdict(set)
    for item in sockets:
        room_events[item["room"]].update(item["events"])
    missing_total = duplicates = reloads = covered = 0
    for item in sockets:
        seen = set(item["events"])
        duplicates += len(item["events"]) - len(seen)
        reloads += item["reloads"]
        for start, end in item["segments"]:
            for event_id in room_events[item["room"]]:
                moment = event_time(event_id)
                if start < moment < end - SPAN_EDGE:
                    covered += 1
                    if event_id not in seen:
                        missing_total += 1
                        report.fail(
                            f"socket of {item['user']} in {item['room']} subscribed "
                            f"{start:.1f}-{end:.1f} missed event {event_id}"
                        )
    if duplicates:
        report.fail(f"{duplicates} events delivered twice to one socket")
    spans: dict[str, list[list[float]]] = defaultdict(list)
    for item in sockets:
        spans[item["room"]].extend(item["segments"])
    delivered = {cid for item in sockets for cid in item.get("comments", ())}
    unpublished = [
        item
        for item in records
        if item["k"] == "write"
        and item["what"] == "comment"
        and item["id"] not in delivered
        and any(
            start < item["t0"] and item["t1"] < end - SPAN_EDGE
            for start, end in spans[f"post:{item['post']}"]
        )
    ]
    gave_up = sum(1 for item in records if item["k"] == "ws_gave_up")
    report.figures["websocket clients"] = {
        "sockets": len(sockets),
        "events owed over subscribed spans": covered,
        "missing": missing_total,
        "told to reload (complete: false)": reloads,
        "reconnects": sum(len(item["disconnects"]) for item in sockets),
        "gave up reconnecting": gave_up,
        "acknowledged comments whose event reached no socket": len(unpublished),
    }


def check_memory(
    samples: list[dict[str, Any]], warm_up_until: float, report: Report
) -> dict[str, str]:
    """`samples`: {"t", "pid", "role", "rss"}. Returns a line per process for the record."""
    born: dict[int, float] = {}
    for sample in samples:
        born.setdefault(sample["pid"], sample["t"])
    by_pid: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for sample in samples:
        if sample["t"] >= max(warm_up_until, born[sample["pid"]] + PROCESS_WARM_UP):
            by_pid[sample["pid"]].append(sample)
    lines = {}
    for pid, mine in sorted(by_pid.items()):
        if len(mine) < 8:
            continue  # started late (a replaced worker): too short a life to judge
        quarter = len(mine) // 4
        early = statistics.median(s["rss"] for s in mine[:quarter])
        late = statistics.median(s["rss"] for s in mine[-quarter:])
        growth = (late - early) / early
        role = mine[0]["role"]
        lines[f"{role} {pid}"] = (
            f"{early / 2**20:.0f} -> {late / 2**20:.0f} MiB ({growth:+.1%}, {len(mine)} samples)"
        )
        if growth > FLAT_GROWTH:
            report.fail(f"{role} process {pid}: RSS grew {growth:+.1%} after warm-up")
    report.figures["memory after warm-up (median first -> last quarter)"] = lines
    return lines


def check_all(
    records: list[dict[str, Any]],
    facts: dict[str, Any],
    *,
    outages: list[tuple[float, float]] = (),
    samples: list[dict[str, Any]] = (),
    warm_up_until: float = 0.0,
) -> Report:
    report = Report()
    check_writes(records, facts, report)
    check_jobs(records, facts, report)
    check_statuses(records, list(outages), report)
    check_sockets(records, report)
    if samples:
        check_memory(list(samples), warm_up_until, report)
    return report
