"""The soak's checker (tests/load/check.py) on a tiny recorded sample: it passes a clean run
and names each kind of loss. The load runs themselves are not part of the suite."""

from __future__ import annotations

import copy
import uuid

from tests.load import check

T0 = 1_800_000_000.0
USER = "01a24202-0000-7000-8000-000000000001"
POST = "01a24202-0000-7000-8000-0000000000aa"
COMMENT = "01a24202-0000-7000-8000-0000000000cc"
JOB = "01a24202-0000-7000-8000-0000000000dd"


def _event_id(at: float) -> str:
    """A UUIDv7 whose time is `at`."""
    return str(uuid.UUID(int=(int(at * 1000) << 80) | (0x7 << 76) | (0b10 << 62) | 1))


EVENT = _event_id(T0 + 20)

RECORDS = [
    {"k": "http", "n": "auth/register", "s": 202, "t0": T0, "t1": T0 + 0.1, "c": None},
    {"k": "write", "what": "register", "username": "ada", "t1": T0 + 0.1},
    {"k": "write", "what": "verify", "username": "ada", "t1": T0 + 1},
    {"k": "write", "what": "login", "user": USER, "t1": T0 + 2},
    {"k": "write", "what": "post", "id": POST, "user": USER, "t1": T0 + 3},
    {"k": "write", "what": "comment", "id": COMMENT, "post": POST, "t0": T0 + 19, "t1": T0 + 20},
    {"k": "job", "id": JOB, "user": USER, "t1": T0 + 25},
    {"k": "http", "n": "posts list", "s": 503, "t0": T0 + 31, "t1": T0 + 31.2, "c": "x"},
    {"k": "http", "n": "posts list", "s": 429, "t0": T0 + 40, "t1": T0 + 40, "c": "rate_limited"},
    {
        "k": "ws",
        "user": USER,
        "room": f"post:{POST}",
        "segments": [[T0 + 10, T0 + 60]],
        "events": [EVENT],
        "comments": [COMMENT],
        "disconnects": [],
        "reloads": 0,
    },
]
FACTS = {
    "users": {"ada": {"id": USER, "email_verified": True}},
    "posts": [POST],
    "comments": [COMMENT],
    "audits": {
        f"user.registered {USER}": 1,
        f"user.email_verified {USER}": 1,
        f"user.login_succeeded {USER}": 1,
        f"post.created {POST}": 1,
        f"comment.created {COMMENT}": 1,
    },
    "jobs": {JOB: {"status": "succeeded", "attempts": 2}},
    "job_notifications": {JOB: 1},
    "chain": {"records": 5, "unsealed": 0, "problems": 0, "first_problem": None},
}
OUTAGES = [(T0 + 30, T0 + 32)]


def _late_socket(records: list[dict]) -> list[dict]:
    """A second socket in the room that saw an event at T0 + 40 the first one never got."""
    later = _event_id(T0 + 40)
    other = {**records[-1], "user": "someone", "events": [EVENT, later]}
    return [*records, other]


def test_a_clean_sample_passes_with_its_figures() -> None:
    report = check.check_all(RECORDS, FACTS, outages=OUTAGES)

    assert report.problems == []
    assert report.figures["jobs by attempts"] == {2: 1}
    assert report.figures["HTTP answers by status"] == {202: 1, 429: 1, 503: 1}


def test_a_write_without_its_audit_record_is_named() -> None:
    facts = copy.deepcopy(FACTS)
    del facts["audits"][f"comment.created {COMMENT}"]

    assert check.check_all(RECORDS, facts, outages=OUTAGES).problems == [
        f"comment {COMMENT}: no comment.created audit record"
    ]


def test_an_acknowledged_comment_missing_from_the_database_is_named() -> None:
    facts = {**FACTS, "comments": []}

    assert check.check_all(RECORDS, facts, outages=OUTAGES).problems == [
        f"comment {COMMENT} answered 201; not in the database"
    ]


def test_a_job_told_twice_is_named() -> None:
    facts = {**FACTS, "job_notifications": {JOB: 2}}

    assert check.check_all(RECORDS, facts, outages=OUTAGES).problems == [
        f"job {JOB}: its owner was told 2 times that it finished"
    ]


def test_a_503_outside_every_outage_is_named() -> None:
    assert check.check_all(RECORDS, FACTS).problems == ["1 x 503 posts list outside an outage"]


def test_a_socket_that_missed_an_event_of_its_span_is_named() -> None:
    problems = check.check_all(_late_socket(RECORDS), FACTS, outages=OUTAGES).problems

    assert len(problems) == 1
    assert problems[0].startswith(f"socket of {USER} in post:{POST} subscribed")


def test_a_socket_told_to_reload_owes_nothing_of_the_gap() -> None:
    records = _late_socket(RECORDS)
    records[-2] = {**records[-2], "segments": [[T0 + 10, T0 + 35], [T0 + 45, T0 + 60]]}

    assert check.check_all(records, FACTS, outages=OUTAGES).problems == []


def test_memory_that_grows_after_warm_up_is_named() -> None:
    samples = [
        {"t": T0 + second, "pid": 7, "role": "web", "rss": (100 + second) * 2**20}
        for second in range(0, 200, 10)
    ]

    report = check.check_all(RECORDS, FACTS, outages=OUTAGES, samples=samples, warm_up_until=T0)

    assert report.problems == ["web process 7: RSS grew +64.7% after warm-up"]
