"""Whole-response cache for reads that are the same for many callers, served before Django.

A cache hit inside Django still costs the middleware stack, DRF's dispatch and JSON rendering
(measured: about 1.5 ms of CPU, so about 1,000 req/s on two cores). Here a view marks a
response as shared with `remember_public_response(response, validators, callers)`; the Django
middleware below stores its bytes and headers in Redis; and the ASGI layer in front of Django
answers the next identical GET from Redis, in one event-loop task.

Who may be answered from an entry:
- Only requests whose answer cannot depend on anything but the URL and the caller's identity
  take the fast path: GET, no cookies, no API key, no `Origin` (CORS answers vary by it), JSON
  or no `Accept`, and either no `Authorization` or a bearer token. Both sides decide with the
  same `request_shape`; the key holds the host, the path and the raw query string, and a view
  marks only the URLs it answers alike (config.http.public_cache never guesses).
- An entry names its `callers`: everyone (a public post reads the same for all), or everyone
  but the roles it excludes and the members for whom a per-user count it names is not zero
  (the post list: admins see drafts of others, a member sees their own drafts), or one
  signed-in user alone (`Callers.only(user_id)`: the post list of a member with drafts).
  One user's entries live under keys of their own (`user_entry_key`), which only a bearer
  token of that user looks up; an entry for everyone is never under such a key, nor one
  user's under a shared key.
- A bearer token is checked as Django checks it (signature, algorithm, `exp`, `aud`, type;
  `BearerLogins.claims`), and its login as Django's authentication would find it, from the
  entry that `BearerLogins` reads (accounts.session_cache: a login ended, a user deactivated
  or with another role moves a version counter on and the entry is worthless at once).

What keeps it correct:
- Every entry lists the version counters its data was computed under (see
  config.core.cache_aside.cache_version_bump); a write moves a counter on after commit, and an
  entry whose counters moved is ignored, so the request goes on to Django.
- The rate limit is counted on the same Redis key as config.http.rate_limits (per address
  when anonymous, per user at their role's rate with a token), in the same round trip as the
  validators; a client over its limit, or a request that goes on to Django after being
  counted, gives its hit back first, so Django counts it once and answers the 429 itself.
- The request id, the RateLimit-* headers and the access log line are made per request, as
  RequestContextMiddleware and RateLimitHeadersMiddleware make them.
- Without Redis (the embedded mode) nothing is stored and every request goes to Django; any
  Redis error does the same.
"""

from __future__ import annotations

import asyncio
import logging
import pickle  # loads only what Django's cache backend wrote  # nosec B403
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponseBase

from config.core.context import accept_request_id, request_id_var
from config.http.client_address import scope_origin
from config.http.logs import redact_query
from config.http.rate_limits import Rate, anonymous_identity, configured_rate, current_window

logger = logging.getLogger("agora.cache")
access_logger = logging.getLogger("agora.access")

ENTRY_TTL_SECONDS = 15 * 60
ATTRIBUTE = "public_cache_validators"
CALLERS_ATTRIBUTE = "public_cache_callers"
# Made per request, never stored with an entry.
PER_REQUEST_HEADERS = frozenset(
    {
        "x-request-id",
        "x-cache",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
        "content-length",
        "set-cookie",
    }
)
DISQUALIFYING_HEADERS = frozenset({"x-api-key", "cookie", "origin"})
ACCEPTABLE = ("", "*/*", "application/json", "application/*")
ANONYMOUS = "anonymous"
BEARER = "bearer"
BEARER_PREFIX = "Bearer"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Callers:
    """Who an entry may answer besides anonymous clients: every signed-in caller but those of
    `excluded_roles`, and but those for whom a count in `zero_counts` is not zero. Each of
    those is (key template with `{user_id}`, version key): a cached `(version, count)` pair
    that is current only while it holds the version counter's value."""

    excluded_roles: tuple[str, ...] = ()
    zero_counts: tuple[tuple[str, str], ...] = ()
    # Set: the entry answers this signed-in user alone, and nobody else.
    user_id: str | None = None

    @classmethod
    def only(cls, user_id: str) -> Callers:
        """The entry of one signed-in user (stored under `user_entry_key`)."""
        return cls(user_id=user_id)


EVERYONE = Callers()


@dataclass(frozen=True)
class Caller:
    """A signed-in caller as authentication would find them: for the limiter and `Callers`."""

    user_id: str
    role: str


class BearerLogins(Protocol):
    """Bearer tokens for the fast path (implemented by accounts.session_cache, which the ASGI
    application passes in: this layer imports no app)."""

    def claims(self, token: str) -> tuple[str, str] | None:
        """(user id, login session id) of a genuine, unexpired access token, else None."""

    def keys(self, user_id: str, session_id: str) -> list[str]:
        """Cache keys whose values `caller` needs."""

    def caller(self, user_id: str, values: Sequence[Any]) -> Caller | None:
        """The caller, if the values of `keys` show a live login of `user_id`."""


def request_shape(method: str, headers: Mapping[str, str]) -> str | None:
    """ANONYMOUS or BEARER when a shared entry may answer this request, else None (headers:
    lower-case names)."""
    if method != "GET":
        return None
    if any(headers.get(name) for name in DISQUALIFYING_HEADERS):
        return None
    accept = headers.get("accept", "").split(";")[0].strip()
    if accept not in ACCEPTABLE:
        return None
    authorization = headers.get("authorization")
    if not authorization:
        return ANONYMOUS
    return BEARER if bearer_token(authorization) is not None else None


def bearer_token(authorization: str) -> str | None:
    """The token of `Bearer <token>`, split as simplejwt splits it."""
    parts = authorization.split()
    if len(parts) == 2 and parts[0] == BEARER_PREFIX:
        return parts[1]
    return None


def is_public_request(method: str, query_string: str | bytes, headers: Mapping[str, str]) -> bool:
    """Whether an anonymous client without query parameters is asking (the plain public read)."""
    return not query_string and request_shape(method, headers) == ANONYMOUS


def remember_public_response(
    response: HttpResponseBase, validators: Mapping[str, int], callers: Callers = EVERYONE
) -> None:
    """Mark `response` as the answer to this URL for anonymous clients and for `callers`, while
    `validators` (version counter key → the value the data was computed under) stay put."""
    setattr(response, ATTRIBUTE, dict(validators))
    setattr(response, CALLERS_ATTRIBUTE, callers)


def entry_key(host: str, path: str, query_string: str = "") -> str:
    suffix = f"?{query_string}" if query_string else ""
    return f"public-response:{host}:{path}{suffix}"


def user_entry_key(user_id: str, host: str, path: str, query_string: str = "") -> str:
    """The key of one user's entry for a URL: another prefix than `entry_key`'s, so no path
    or host makes one key the other."""
    suffix = f"?{query_string}" if query_string else ""
    return f"public-response-user:{user_id}:{host}:{path}{suffix}"


def _redis_backend() -> RedisCache | None:
    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def _loads(raw: bytes | None) -> Any:
    """A value as Django's Redis cache stores it: integers as such, the rest pickled."""
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return pickle.loads(raw)  # noqa: S301 - our own cache, written by Django's backend  # nosec B301


class PublicResponseStoreMiddleware:
    """Stores responses marked by `remember_public_response` for the ASGI fast path.

    Sits just inside the request-context and rate-limit-header middlewares, so the stored
    headers are everything the rest of the stack adds, and nothing made per request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        validators = getattr(response, ATTRIBUTE, None)
        if validators is None or response.status_code != 200 or response.streaming:
            return response
        backend = _redis_backend()
        headers = {name.lower(): value for name, value in request.headers.items()}
        shape = request_shape(request.method or "", headers) if backend is not None else None
        callers = getattr(response, CALLERS_ATTRIBUTE, EVERYONE)
        if shape is None or (callers.user_id is not None and shape != BEARER):
            return response
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
        entry = {
            "validators": validators,
            "callers": callers,
            "status": response.status_code,
            "headers": [
                (name, value)
                for name, value in response.items()
                if name.lower() not in PER_REQUEST_HEADERS
            ],
            "body": response.content,
        }
        url = (request.get_host(), request.path, request.META.get("QUERY_STRING", ""))
        user_id = callers.user_id
        key = entry_key(*url) if user_id is None else user_entry_key(user_id, *url)
        try:
            backend.set(key, entry, ENTRY_TTL_SECONDS)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - a cache outage must not fail the request
            logger.warning("public response not stored: %r", exc)
        return response


class PublicResponseCache:
    """ASGI middleware: answers shared GETs from Redis, everything else goes to `app`."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        logins: BearerLogins | None = None,
    ) -> None:
        self.app = app
        self.logins = logins
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._cache_backend: RedisCache | None = None
        self._cache_backend_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and settings.REDIS_URL:
            headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in scope.get("headers", ())
            }
            shape = request_shape(scope["method"], headers)
            if shape is not None:
                try:
                    if await self._serve(scope, headers, shape, send):
                        return
                except Exception as exc:  # noqa: BLE001 - Redis trouble: let Django answer
                    logger.debug("public response cache skipped: %r", exc)
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, headers: dict[str, str], shape: str, send: Send) -> bool:
        backend = self._backend()
        host = headers.get("host", "")
        if backend is None or not host:
            return False
        claims = None
        if shape == BEARER:
            token = bearer_token(headers["authorization"])
            if self.logins is None or token is None:
                return False
            claims = self.logins.claims(token)
            if claims is None:
                return False
        query = scope.get("query_string", b"").decode("latin-1")
        keys = [entry_key(host, scope["path"], query)]
        if claims is not None:
            keys.append(user_entry_key(claims[0], host, scope["path"], query))
            keys += self.logins.keys(*claims)  # type: ignore[union-attr]
        client = self._redis()
        # Round trip 1: the shared entry, the caller's own entry, and the caller's login.
        values = [_loads(raw) for raw in await client.mget([backend.make_key(k) for k in keys])]
        caller = None
        if claims is not None:
            caller = self.logins.caller(claims[0], values[2:])  # type: ignore[union-attr]
            if caller is None:
                return False
        candidates = _candidates(values[0], values[1] if caller is not None else None, caller)
        if not candidates:
            return False
        # Round trip 2: the hit on the caller's rate limit, and what each candidate entry needs
        # to hold: its validators, and for the shared entry and a signed-in caller the per-user
        # counts it asks to be zero.
        rate, rate_key = self._rate_limit(scope, caller)
        needs = [_needs(entry, caller) for entry in candidates]
        pipeline = client.pipeline(transaction=False)
        if rate is not None:
            window = current_window(rate_key[0], rate_key[1], rate)
            limit_key = backend.make_key(window.key)
            pipeline.set(limit_key, 0, ex=window.timeout, nx=True)
            pipeline.incr(limit_key)
        pipeline.mget([backend.make_key(name) for names, _held in needs for name in names])
        results = await pipeline.execute()
        current = [_loads(raw) for raw in results[-1]]
        served = None
        at = 0
        for entry, (names, held) in zip(candidates, needs, strict=True):
            values_now = current[at : at + len(names)]
            at += len(names)
            if served is None and _fresh(entry, values_now, held):
                served = entry
        standing = None
        if rate is not None:
            count = int(results[1])
            if count > rate.limit or served is None:
                await client.decr(limit_key)
                return False
            standing = (rate.limit, max(0, rate.limit - count), window.reset)
        if served is None:
            return False
        request_id = accept_request_id(headers.get("x-request-id"))
        await self._send(served, request_id, standing, send)
        token = request_id_var.set(request_id)
        try:
            _log_access(scope, served["status"], caller)
        finally:
            request_id_var.reset(token)
        return True

    def _rate_limit(
        self, scope: Scope, caller: Caller | None
    ) -> tuple[Rate | None, tuple[str, str]]:
        """The rate and (scope, identity) RoleRateThrottle counts this caller under."""
        if caller is None:
            identity = anonymous_identity(scope_origin(scope).ip or "")
            return configured_rate("anon"), ("anon", identity)
        return configured_rate(caller.role), (caller.role, f"user:{caller.user_id}")

    async def _send(
        self,
        entry: dict[str, Any],
        request_id: str,
        standing: tuple[int, int, int] | None,
        send: Send,
    ) -> None:
        body: bytes = entry["body"]
        response_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in entry["headers"]
        ]
        response_headers += [
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
            (b"x-cache", b"hit"),
        ]
        if standing is not None:
            limit, remaining, reset = standing
            response_headers += [
                (b"ratelimit-limit", str(limit).encode()),
                (b"ratelimit-remaining", str(remaining).encode()),
                (b"ratelimit-reset", str(reset).encode()),
            ]
        await send(
            {"type": "http.response.start", "status": entry["status"], "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": body})

    def _backend(self) -> RedisCache | None:
        """Django's Redis cache backend (for its key names), looked up once per event loop:
        `caches[...]` goes through asgiref's Local on each call, measured (py-spy, bearer
        detail hits) at 8 % of the fast path's CPU."""
        loop = asyncio.get_running_loop()
        if self._cache_backend_loop is not loop:
            self._cache_backend = _redis_backend()
            self._cache_backend_loop = loop
        return self._cache_backend

    def _redis(self) -> Any:
        """One client (and connection pool) per event loop: the server has one per process."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            from redis.asyncio import Redis

            self._client = Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
            self._client_loop = loop
        return self._client


def _candidates(shared: Any, own: Any, caller: Caller | None) -> list[dict[str, Any]]:
    """The entries that may answer `caller` (None: anonymous), before their freshness is
    known: the shared entry unless it excludes the caller's role, then the caller's own."""
    found = []
    if isinstance(shared, dict):
        callers: Callers = shared.get("callers", EVERYONE)
        excluded = caller is not None and caller.role in callers.excluded_roles
        if callers.user_id is None and not excluded:
            found.append(shared)
    mine = caller is not None and isinstance(own, dict)
    if mine and own.get("callers", EVERYONE).user_id == caller.user_id:  # type: ignore[union-attr]
        found.append(own)
    return found


def _needs(entry: dict[str, Any], caller: Caller | None) -> tuple[list[str], int]:
    """The keys whose values decide whether `entry` is fresh for `caller`, and how many of them
    are its validators: then, for a signed-in caller, the (version, count) pairs its
    `zero_counts` name followed by their version counters."""
    names = list(entry["validators"])
    held = len(names)
    if caller is not None:
        zero_counts = entry.get("callers", EVERYONE).zero_counts
        names += [template.format(user_id=caller.user_id) for template, _ in zero_counts]
        names += [version for _, version in zero_counts]
    return names, held


def _fresh(entry: dict[str, Any], current: Sequence[Any], held: int) -> bool:
    """Whether `entry` may answer, from the current values of its `_needs`."""
    return _validators_hold(entry["validators"], current[:held]) and _counts_zero(current[held:])


def _validators_hold(validators: Mapping[str, int], current: Sequence[Any]) -> bool:
    """Whether every counter is where the entry's data was computed (an unset counter is 1)."""
    return all(
        (value if isinstance(value, int) else 1) == expected
        for expected, value in zip(validators.values(), current, strict=True)
    )


def _counts_zero(values: Sequence[Any]) -> bool:
    """`values`: the (version, count) pairs of `Callers.zero_counts`, then their counters."""
    half = len(values) // 2
    for pair, version in zip(values[:half], values[half:], strict=True):
        version = version if isinstance(version, int) else 1
        if not (isinstance(pair, tuple) and len(pair) == 2 and pair == (version, 0)):
            return False
    return True


def _log_access(scope: Scope, status: int, caller: Caller | None) -> None:
    if access_logger.isEnabledFor(logging.INFO):
        query = redact_query(scope.get("query_string", b"").decode("latin-1"))
        access_logger.info(
            "%s %s %s",
            scope["method"],
            scope["path"],
            status,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                **({"query": query} if query else {}),
                "status": status,
                "cache": "hit",
                "user": caller.user_id if caller is not None else None,
                "ip": scope_origin(scope).ip,
            },
        )
