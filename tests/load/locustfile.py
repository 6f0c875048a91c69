"""Agora's user journey for Locust (`make loadtest`, `make soak`; tests/load/run.py starts it).

Each virtual user signs up, reads its verification mail from the files the server writes
(EMAIL_URL=filemail://LOAD_MAIL_DIR: no backdoor in the product), verifies, logs in, opens a
WebSocket (websocket-client, cooperative under Locust's gevent) subscribed to one of the hot
posts' rooms, then browses lists, details and search, comments, refreshes its tokens, pings its
socket, and now and then exports and runs an export job to its end.

Every HTTP answer, every acknowledged write and accepted job, and each socket's events are
appended to LOAD_RECORD (JSON lines) for tests/load/check.py. Steps are Locust request events,
so Locust's stats give their throughput and percentiles; WebSocket steps have type `WS`.

A documented 429 (`rate_limited`/`account_locked` with Retry-After) is recorded as a failure
whose message starts with `documented 429`, honoured (the user waits), and accepted by the runs.
"""

from __future__ import annotations

import email
import json
import os
import random
import re
import struct
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import gevent
import websocket
from gevent.event import Event
from gevent.lock import Semaphore
from locust import HttpUser, between, constant_pacing, events, task
from locust.clients import HttpSession

MAIL_DIR = Path(os.environ.get("LOAD_MAIL_DIR", "var/load-mail"))
RECORD_PATH = os.environ.get("LOAD_RECORD", "")
HOT_POSTS = int(os.environ.get("LOAD_HOT_POSTS", "4"))
# Seconds between one user's tasks, whatever they take (a steady rate), or a random 0.5-2 s.
PACING = float(os.environ.get("LOAD_PACING", "0"))
JOB_DEADLINE_SECONDS = float(os.environ.get("LOAD_JOB_DEADLINE", "240"))
# How long a step retries while a dependency is down (503, no answer) before giving up.
RETRY_SECONDS = float(os.environ.get("LOAD_RETRY_SECONDS", "120"))
PASSWORD = "load-journey-password-7f3a"
WORDS = ("harbour", "lantern", "festival", "meadow", "quartz", "saffron", "tundra", "violet")
DOCUMENTED_429 = ("rate_limited", "account_locked")
SEPARATOR = b"\n" + b"-" * 79 + b"\n"
TOKEN_LINK = re.compile(r"/verify-email\?token=([^\s&\"<]+)")

_record_lock = threading.Lock()
_record_file = open(RECORD_PATH, "a", encoding="utf-8") if RECORD_PATH else None  # noqa: SIM115


def record(kind: str, **fields: Any) -> None:
    if _record_file is None:
        return
    line = json.dumps({"k": kind, **fields}, separators=(",", ":"))
    with _record_lock:
        _record_file.write(line + "\n")
        _record_file.flush()


class Mailbox:
    """The verification tokens in the mail files, by recipient; each file read once complete."""

    def __init__(self) -> None:
        self.parsed: dict[str, int] = {}  # file name -> messages of it already parsed
        self.sizes: dict[str, int] = {}
        self.tokens: dict[str, str] = {}

    def scan(self) -> None:
        if not MAIL_DIR.is_dir():
            return
        for entry in os.scandir(MAIL_DIR):
            size = entry.stat().st_size
            if self.sizes.get(entry.name) == size:
                continue
            self.sizes[entry.name] = size
            content = Path(entry.path).read_bytes()
            complete = content.split(SEPARATOR)[:-1]  # the last piece may be still being written
            for raw in complete[self.parsed.get(entry.name, 0) :]:
                self._parse(raw)
            self.parsed[entry.name] = len(complete)

    def _parse(self, raw: bytes) -> None:
        message = email.message_from_bytes(raw)
        for part in message.walk():
            if part.get_content_type() != "text/plain":
                continue
            body = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
            match = TOKEN_LINK.search(body)
            if match:
                self.tokens[message["To"].strip()] = unquote(match.group(1))

    def token_for(self, address: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.scan()
            if address in self.tokens:
                return self.tokens.pop(address)
            gevent.sleep(0.25)
        return None


MAILBOX = Mailbox()
HOT: list[str] = []  # the hot posts' ids: every user's post room is one of them


def fire(request_type: str, name: str, started: float, error: Exception | None = None) -> None:
    events.request.fire(
        request_type=request_type,
        name=name,
        response_time=(time.time() - started) * 1000,
        response_length=0,
        exception=error,
        context={},
    )


class Gone(Exception):
    """A step kept failing for RETRY_SECONDS (a dependency stayed down): the task gives up."""


class Api:
    """The REST calls of one account, recorded; retries what a dependency outage refused."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session
        self.access = ""
        self.refresh_token = ""
        self.issued = 0.0
        self.expires_in = 300.0
        self.user_id = ""
        self.refreshing = Semaphore()

    def call(
        self,
        method: str,
        path: str,
        name: str,
        *,
        ok: tuple[int, ...] = (200,),
        auth: bool = True,
        retry: bool = True,
        **kwargs: Any,
    ) -> Any:
        """The JSON (or bytes) of a successful answer, or raises Gone."""
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            if auth and self.refresh_token and time.time() - self.issued > self.expires_in - 60:
                self.refresh(force=False)
            headers = dict(kwargs.pop("headers", {}))
            if auth and self.access:
                headers["Authorization"] = f"Bearer {self.access}"
            sent = time.time()
            with self.session.request(
                method,
                path,
                name=name,
                headers=headers,
                catch_response=True,
                timeout=60,
                **kwargs,
            ) as response:
                status = response.status_code or 0
                code = _error_code(response) if status >= 400 else None
                record(
                    "http",
                    n=name,
                    s=status,
                    t0=round(sent, 3),
                    t1=round(time.time(), 3),
                    c=code,
                    rid=response.headers.get("X-Request-ID") if status else None,
                )
                if status in ok:
                    response.success()
                    if "json" in response.headers.get("Content-Type", ""):
                        return response.json()
                    return response.content
                wait = 1.0 + random.random()
                if status == 429 and code in DOCUMENTED_429 and "Retry-After" in response.headers:
                    response.failure(f"documented 429 {code}")
                    wait = min(float(response.headers["Retry-After"]), 10.0)
                else:
                    response.failure(f"{status} {code or ''}".strip())
                    if not (retry and status in (0, 502, 503, 504)):
                        raise Gone(f"{name}: {status} {code}")
            if time.monotonic() + wait > deadline:
                raise Gone(f"{name}: still {status} after {RETRY_SECONDS:.0f} s")
            gevent.sleep(wait)

    def tokens(self, answer: dict[str, Any]) -> None:
        self.access = answer["access_token"]
        self.refresh_token = answer["refresh_token"]
        self.expires_in = float(answer.get("expires_in", 300))
        self.issued = time.time()

    def refresh(self, *, force: bool = True) -> None:
        """Rotate the pair; one at a time (the socket's greenlet shares it): presenting a
        rotated refresh token again would end the whole login (theft detection)."""
        with self.refreshing:
            if not force and time.time() - self.issued <= self.expires_in - 60:
                return
            self.tokens(
                self.call(
                    "POST",
                    "/api/v1/auth/token/refresh",
                    "auth/token/refresh",
                    auth=False,
                    json={"refresh_token": self.refresh_token},
                )
            )

    def sign_up(self, username: str) -> None:
        """Register, read the mail, verify, log in; the writes are recorded for the checker."""
        address = f"{username}@load.example.org"
        started = time.time()
        self.call(
            "POST",
            "/api/v1/auth/register",
            "auth/register",
            ok=(202,),
            auth=False,
            json={"email": address, "username": username, "password": PASSWORD},
        )
        record("write", what="register", username=username, t1=round(time.time(), 3))
        token = MAILBOX.token_for(address, timeout=RETRY_SECONDS)
        fire("MAIL", "verification mail arrived", started, None if token else Gone("no mail"))
        if token is None:
            raise Gone("no verification mail")
        self.call(
            "POST",
            "/api/v1/auth/verify-email",
            "auth/verify-email",
            auth=False,
            json={"token": token},
        )
        record("write", what="verify", username=username, t1=round(time.time(), 3))
        self.log_in(username)

    def log_in(self, username: str) -> None:
        self.tokens(
            self.call(
                "POST",
                "/api/v1/auth/token",
                "auth/token",
                auth=False,
                json={"grant_type": "password", "username": username, "password": PASSWORD},
            )
        )
        me = self.call("GET", "/api/v1/users/me", "users/me")
        self.user_id = me["id"]
        record("write", what="login", user=self.user_id, t1=round(time.time(), 3))

    def post_create(self, title: str) -> str:
        post = self.call(
            "POST",
            "/api/v1/posts",
            "posts create",
            ok=(201,),
            json={
                "title": title,
                "body": f"{title}. " * 8,
                "status": "published",
                "tags": [random.choice(WORDS)],
            },
        )
        record("write", what="post", id=post["id"], user=self.user_id, t1=round(time.time(), 3))
        return post["id"]


def _error_code(response: Any) -> str | None:
    try:
        return response.json()["error"]["code"]
    except Exception:
        return None


class Socket:
    """One WebSocket of a user, in one post room; reconnects and resumes until told to stop."""

    def __init__(self, api: Api, base_url: str, room: str) -> None:
        self.api = api
        self.url = base_url.replace("http://", "ws://") + "/ws/v1/"
        self.room = room
        self.ws: websocket.WebSocket | None = None
        self.events: list[str] = []
        self.comments: list[str] = []  # ids of the comments of comment.created events
        self.waiting: dict[str, Event] = {}  # msg_id or "pong" -> event
        self.delivery: dict[str, float] = {}  # own comment id -> time sent
        self.segments: list[list[float]] = []  # [start, end] of continuous coverage
        self.disconnects: list[dict[str, Any]] = []
        self.lost_at: float | None = None  # first loss since the last subscription
        self.reloads = 0
        self.stopping = False
        self.runner: gevent.Greenlet | None = None
        self.pump: gevent.Greenlet | None = None
        self.resumed: dict[str, Any] | None = None

    def start(self) -> None:
        self.runner = gevent.spawn(self._run)

    def _run(self) -> None:
        attempt = 0
        while not self.stopping:
            try:
                self._connect()
                self.pump = gevent.spawn(self._read)
                try:
                    self._subscribe()
                except Exception:
                    self.pump.kill()
                    raise
                attempt = 0
                self.pump.join()
                error = self.pump.exception or ConnectionError("socket ended")
            except Exception as caught:
                error = caught
            if self.stopping:
                return
            self._lost(error)
            attempt += 1
            if self.lost_at is not None and time.time() - self.lost_at > RETRY_SECONDS:
                self.segments[-1][1] = self.lost_at
                record("ws_gave_up", user=self.api.user_id, room=self.room)
                self.stopping = True
                self._record()
                return
            gevent.sleep(random.uniform(0, min(10.0, 0.5 * 2**attempt)))

    def _connect(self) -> None:
        started = time.time()
        ticket = self.api.call(
            "POST", "/api/v1/auth/ws-ticket", "auth/ws-ticket", ok=(201,), retry=False
        )["ticket"]
        try:
            self.ws = websocket.create_connection(
                f"{self.url}?ticket={ticket}", timeout=15, enable_multithread=True
            )
        except Exception as error:
            fire("WS", "connect", started, error)
            raise
        fire("WS", "connect", started)

    def _subscribe(self) -> None:
        """Subscribe (with `since` after a reconnect); the time coverage starts or goes on."""
        since = self.events[-1] if self.segments and self.events else None
        msg_id = uuid.uuid4().hex
        frame: dict[str, Any] = {"type": "subscribe", "room": self.room, "msg_id": msg_id}
        if since:
            frame["since"] = since
        done = self.waiting[msg_id] = Event()
        self.resumed = None
        started = time.time()
        self.ws.send(json.dumps(frame))
        name = "resume" if since else "subscribe"
        if not done.wait(15):
            fire("WS", name, started, TimeoutError("no ack"))
            raise TimeoutError("no ack")
        now = time.time()
        if not self.segments:
            self.segments.append([now, 0.0])
        elif since is None or not (self.resumed and self.resumed.get("complete")):
            # Told to reload (or nothing to resume from): coverage ended at the loss.
            self.reloads += since is not None
            self.segments[-1][1] = self.lost_at or now
            self.segments.append([now, 0.0])
        self.lost_at = None
        fire("WS", name, started)

    def _read(self) -> None:
        while not self.stopping:
            try:
                opcode, data = self.ws.recv_data(control_frame=False)
            except websocket.WebSocketTimeoutException:
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                raise ConnectionError(f"closed {code}")
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self._frame(json.loads(data))

    def _frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "event" and frame.get("room") == self.room:
            self.events.append(frame["id"])
            if frame.get("event") == "comment.created":
                self.comments.append(str(frame["data"]["id"]))
            marker = str(frame.get("data", {}).get("body", "")).split(" ")[-1]
            sent = self.delivery.pop(marker, None)
            if sent is not None:
                fire("WS", "own comment.created delivered", sent)
        elif kind == "resumed" and frame.get("room") == self.room:
            self.resumed = frame
        elif kind in ("ack", "pong"):
            waiter = self.waiting.pop(frame.get("msg_id") or "pong", None)
            if waiter is not None:
                waiter.set()
        elif kind == "error":
            fire("WS", f"error {frame.get('code')}", time.time(), RuntimeError(frame.get("code")))
            waiter = self.waiting.pop(frame.get("msg_id") or "", None)
            if waiter is not None:
                waiter.set()

    def _lost(self, error: BaseException) -> None:
        why = str(error)[:80] or type(error).__name__
        now = time.time()
        if self.segments and self.lost_at is None:
            self.lost_at = now
        self.disconnects.append({"t": round(now, 3), "why": why})
        fire("WS", "disconnected", now, ConnectionError(why))
        if self.ws is not None:
            with suppress(Exception):  # already gone
                self.ws.close(timeout=1)
        self.ws = None

    def ping(self) -> None:
        if self.ws is None:
            return
        done = self.waiting["pong"] = Event()
        started = time.time()
        try:
            self.ws.send('{"type":"ping"}')
        except Exception:
            return
        fire("WS", "ping", started, None if done.wait(10) else TimeoutError("no pong"))

    def stop(self) -> None:
        """End the coverage now, close, and record what this socket saw."""
        if self.stopping:
            return
        self.stopping = True
        if self.segments:
            self.segments[-1][1] = self.lost_at or time.time()
        for greenlet in (self.runner, self.pump):
            if greenlet is not None:
                greenlet.kill(block=False)
        if self.ws is not None:
            with suppress(Exception):  # already gone
                self.ws.close(timeout=2)
        self._record()

    def _record(self) -> None:
        record(
            "ws",
            user=self.api.user_id,
            room=self.room,
            segments=[[round(a, 3), round(b, 3)] for a, b in self.segments],
            events=self.events,
            comments=self.comments,
            disconnects=self.disconnects,
            reloads=self.reloads,
        )


@events.test_start.add_listener
def _hot_posts(environment: Any, **_: Any) -> None:
    """One author makes the hot posts whose rooms the users share (through the API, audited)."""
    if HOT:
        return
    api = Api(HttpSession(environment.host, request_event=environment.events.request, user=None))
    api.sign_up(f"host{uuid.uuid4().hex[:10]}")
    for number in range(HOT_POSTS):
        HOT.append(api.post_create(f"Hot post {number} {random.choice(WORDS)}"))


@events.quitting.add_listener
def _close_record(**_: Any) -> None:
    if _record_file is not None:
        _record_file.flush()


class Member(HttpUser):
    """A signed-up member: browses, searches, comments in its post room, runs jobs."""

    wait_time = constant_pacing(PACING) if PACING else between(0.5, 2)

    def on_start(self) -> None:
        self.api = Api(self.client)
        self.socket: Socket | None = None
        self.posts: list[str] = list(HOT)
        self.api.sign_up(f"u{uuid.uuid4().hex[:12]}")
        self.posts.append(self.api.post_create(f"First post {random.choice(WORDS)}"))
        self.room_post = random.choice(HOT)
        self.socket = Socket(self.api, self.host, f"post:{self.room_post}")
        self.socket.start()

    def on_stop(self) -> None:
        if getattr(self, "socket", None) is not None:
            self.socket.stop()

    def _safely(self, step: Callable[[], object]) -> None:
        """A step that gave up (a dependency stayed down) ends; the user goes on."""
        with suppress(Gone):
            step()

    @task(4)
    def browse(self) -> None:
        def step() -> None:
            page = self.api.call(
                "GET", "/api/v1/posts?limit=20", "posts list", auth=random.random() < 0.5
            )
            self.posts.extend(post["id"] for post in page["results"][:5])
            del self.posts[: max(0, len(self.posts) - 100)]
            if page.get("next"):
                self.api.call("GET", "/api/v1/posts?pagination=cursor&limit=20", "posts cursor")

        self._safely(step)

    @task(4)
    def detail(self) -> None:
        def step() -> None:
            post = random.choice(self.posts)
            self.api.call("GET", f"/api/v1/posts/{post}", "posts detail")
            self.api.call("GET", f"/api/v1/posts/{post}/comments?limit=20", "post comments")

        self._safely(step)

    @task(2)
    def search(self) -> None:
        self._safely(
            lambda: self.api.call(
                "GET", f"/api/v1/posts?search={random.choice(WORDS)}&limit=20", "posts search"
            )
        )

    @task(3)
    def comment(self) -> None:
        def step() -> None:
            # The event may arrive before the answer: it is matched by the body's last word.
            marker = uuid.uuid4().hex
            sent = time.time()
            if self.socket is not None and not self.socket.stopping:
                self.socket.delivery[marker] = sent
            comment = self.api.call(
                "POST",
                f"/api/v1/posts/{self.room_post}/comments",
                "comments create",
                ok=(201,),
                retry=False,
                json={"body": f"Comment ✓ {marker}"},
            )
            record(
                "write",
                what="comment",
                id=comment["id"],
                post=self.room_post,
                user=self.api.user_id,
                t0=round(sent, 3),
                t1=round(time.time(), 3),
            )

        self._safely(step)

    @task(1)
    def write_post(self) -> None:
        self._safely(lambda: self.posts.append(self.api.post_create(random.choice(WORDS))))

    @task(1)
    def refresh(self) -> None:
        self._safely(self.api.refresh)

    @task(1)
    def ping(self) -> None:
        if self.socket is not None:
            self.socket.ping()

    @task(1)
    def export(self) -> None:
        self._safely(
            lambda: self.api.call(
                "GET",
                f"/api/v1/posts/export?file_format=csv&author={self.api.user_id}",
                "posts export",
            )
        )

    @task(1)
    def job(self) -> None:
        def step() -> None:
            started = time.time()
            params = {
                "file_format": random.choice(("csv", "json")),
                "filters": {"author": self.api.user_id, "created_before": _now_iso()},
            }
            job = self.api.call(
                "POST",
                "/api/v1/jobs",
                "jobs create",
                ok=(202,),
                retry=False,
                json={"kind": "export", "params": params},
            )
            record("job", id=job["id"], user=self.api.user_id, t1=round(time.time(), 3))
            deadline = time.monotonic() + JOB_DEADLINE_SECONDS
            while time.monotonic() < deadline:
                gevent.sleep(1)
                job = self.api.call("GET", f"/api/v1/jobs/{job['id']}", "jobs detail")
                if job["status"] in ("succeeded", "failed", "cancelled", "dead"):
                    break
            ended = job["status"] == "succeeded"
            fire("JOB", "export job to its end", started, None if ended else Gone(job["status"]))
            if ended:
                self.api.call("GET", f"/api/v1/jobs/{job['id']}/result", "jobs result")

        self._safely(step)


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3600)) + "Z"
