"""The services mode's realtime state, in Redis, shared by every server process.

- A room's log is a stream (`hist:<room>`), trimmed to `WS_HISTORY_EVENTS`; the newest id
  trimmed away is kept (`floor:<room>`) so `resume` knows whether it is complete. Appending
  and publishing are one script: ids, log order and fan-out order always agree.
- Fan-out: one PUBLISH per event on one channel that every server process subscribes to;
  each process forwards to its own sockets (measured against channels-redis, docs/websocket.md).
- Presence: per room, connection → user and user → connection count; every entry is also
  listed under the server process that holds it, so when a process dies (no heartbeat for
  `WS_PROCESS_TIMEOUT_SECONDS`, judged on Redis' clock) one surviving process claims it and
  removes its entries, announcing the users who left.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from uuid_utils.compat import uuid7

from realtime.backends.base import (
    MessageHandler,
    RealtimeBackend,
    Replay,
    history_covers,
)

logger = logging.getLogger("agora.realtime")

PREFIX = "agora:rt:"
PROCESSES = PREFIX + "procs"
RECONNECT_MAX_SECONDS = 5.0
ASYNC_POOL_SIZE = 50

# KEYS: log, floor. ARGV: candidate id, frame tail, channel, room, kept events, idle ms.
PUBLISH_EVENT = """
local function successor(s)
  local digits = {}
  for i = 1, #s do digits[i] = s:sub(i, i) end
  for i = #digits, 1, -1 do
    if digits[i] ~= '-' then
      local n = tonumber(digits[i], 16)
      if n < 15 then
        digits[i] = string.format('%x', n + 1)
        return table.concat(digits)
      end
      digits[i] = '0'
    end
  end
  return table.concat(digits)
end
local id = ARGV[1]
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #newest > 0 then
  local last = newest[1][2][2]
  if id <= last then id = successor(last) end
end
local frame = '{"type":"event","id":"' .. id .. '",' .. ARGV[2]
redis.call('XADD', KEYS[1], '*', 'i', id, 'f', frame)
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[5])
if excess > 0 then
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  for _, entry in ipairs(old) do redis.call('XDEL', KEYS[1], entry[1]) end
  redis.call('SET', KEYS[2], old[#old][2][2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('PUBLISH', ARGV[3], 'e ' .. ARGV[4] .. ' ' .. id .. '\\n' .. frame)
return id
"""

# KEYS: processes. ARGV: this process, timeout seconds. Returns the dead processes it claimed.
HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local claimed = {}
for _, process in ipairs(dead) do
  if process ~= ARGV[1] and redis.call('ZREM', KEYS[1], process) == 1 then
    table.insert(claimed, process)
  end
end
return claimed
"""

# KEYS: the user's connections, processes, this process's entries.
# ARGV: member, limit, timeout seconds, entry. 1 when counted, 0 over the limit.
CONNECTION_OPEN = """
local t = redis.call('TIME')
local stale = tonumber(t[1]) - tonumber(ARGV[3])
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local process = string.match(member, '^([^/]+)/')
  local beat = redis.call('ZSCORE', KEYS[2], process)
  if (not beat) or tonumber(beat) < stale then redis.call('ZREM', KEYS[1], member) end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], t[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""

# KEYS: room members, user counts, user infos, the process's entries.
# ARGV: member, user id, user json, entry. 1 when the user just came online in the room.
PRESENCE_JOIN = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then return 1 end
return 0
"""

# KEYS: room members, user counts, user infos, the process's entries. ARGV: member, entry.
# Returns the user's json when that was their last connection in the room.
PRESENCE_LEAVE = """
redis.call('SREM', KEYS[4], ARGV[2])
local user = redis.call('HGET', KEYS[1], ARGV[1])
if not user then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HINCRBY', KEYS[2], user, -1) > 0 then return false end
redis.call('HDEL', KEYS[2], user)
local info = redis.call('HGET', KEYS[3], user)
redis.call('HDEL', KEYS[3], user)
return info
"""


def _room_keys(room: str) -> list[str]:
    base = f"{PREFIX}pres:{room}"
    return [base, base + ":n", base + ":info"]


def _process_key(process_id: str) -> str:
    return f"{PREFIX}proc:{process_id}"


def _process_of(member: str) -> str:
    return member.split("/", 1)[0]


class RedisBackend(RealtimeBackend):
    name = "redis"

    def __init__(self, url: str) -> None:
        options = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30}
        self._url = url
        self._options = options
        # Publishing and health probes answer fast or fail fast.
        self._sync = redis.Redis.from_url(url, **{**options, "socket_timeout": 2})
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        db = self._sync.connection_pool.connection_kwargs.get("db", 0)
        # PUBLISH is not scoped by database: the channel names it, so two deployments (or test
        # runs) sharing one Redis server on different databases never hear each other.
        self.channel = f"{PREFIX}{db}:fanout"
        self._publish_event = self._sync.register_script(PUBLISH_EVENT)

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            # Bounded, and waiting rather than failing: a thousand sockets closing at once
            # queue for a connection instead of raising MaxConnectionsError.
            pool = aioredis.BlockingConnectionPool.from_url(
                self._url, max_connections=ASYNC_POOL_SIZE, timeout=5, **self._options
            )
            client = aioredis.Redis(connection_pool=pool)
            self._async[loop] = client
        return client

    # -- events ------------------------------------------------------------------------------
    def publish_event(self, room: str, tail: str) -> str:
        idle_ms = settings.WS_HISTORY_IDLE_SECONDS * 1000
        keys = [f"{PREFIX}hist:{room}", f"{PREFIX}floor:{room}"]
        args = [str(uuid7()), tail, self.channel, room, settings.WS_HISTORY_EVENTS, idle_ms]
        return self._publish_event(keys=keys, args=args).decode()

    async def replay(self, room: str, since: str) -> Replay:
        client = self._client()
        async with client.pipeline(transaction=True) as pipe:
            pipe.xrange(f"{PREFIX}hist:{room}", "-", "+")
            pipe.get(f"{PREFIX}floor:{room}")
            entries, floor = await pipe.execute()
        frames = []
        for _, fields in entries:
            event_id = fields[b"i"].decode()
            if event_id > since:
                frames.append((event_id, fields[b"f"].decode()))
        floor_id = floor.decode() if floor else None
        return Replay(frames, history_covers(since, floor_id, now=datetime.now(UTC)))

    # -- fan-out -----------------------------------------------------------------------------
    async def publish(self, message: str) -> None:
        await self._client().publish(self.channel, message)

    def publish_sync(self, message: str) -> None:
        self._sync.publish(self.channel, message)

    async def listen(
        self,
        handler: MessageHandler,
        on_reconnect: Callable[[], Awaitable[None]],
        subscribed: asyncio.Event,
    ) -> None:
        delay = 0.1
        first = True
        while True:
            # Its own connection, with no read timeout: a subscription waits as long as it must;
            # redis-py's health check pings it, so a dead connection is still noticed.
            client = aioredis.Redis.from_url(
                self._url, socket_connect_timeout=2, health_check_interval=15
            )
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                # The confirmation: from here on, every PUBLISH reaches this process.
                confirmed = None
                while confirmed is None:
                    confirmed = await pubsub.get_message(
                        timeout=5.0, ignore_subscribe_messages=False
                    )
                subscribed.set()
                if not first:
                    logger.warning("realtime fan-out subscription restored")
                    await on_reconnect()
                first = False
                delay = 0.1
                task = asyncio.current_task()
                while True:
                    message = await pubsub.get_message(timeout=5.0, ignore_subscribe_messages=True)
                    if task is not None and task.cancelling():
                        # redis-py may swallow a cancellation that lands inside its read.
                        raise asyncio.CancelledError
                    if message is not None and message["type"] == "message":
                        handler(message["data"].decode())
            except (redis.RedisError, OSError) as exc:
                logger.warning("realtime fan-out subscription lost: %s", exc)
                await asyncio.sleep(delay)
                delay = min(RECONNECT_MAX_SECONDS, delay * 2)
            finally:
                await pubsub.aclose()
                await client.aclose()

    # -- presence and connections ------------------------------------------------------------
    async def start_process(self) -> str:
        process_id = uuid.uuid4().hex
        await self.heartbeat(process_id)
        return process_id

    async def heartbeat(self, process_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
        client = self._client()
        claimed = await client.eval(
            HEARTBEAT, 1, PROCESSES, process_id, settings.WS_PROCESS_TIMEOUT_SECONDS
        )
        left: dict[str, list[dict[str, Any]]] = {}
        for raw in claimed:
            dead = raw.decode()
            key = _process_key(dead)
            for entry in await client.smembers(key):
                kind, target, member = entry.decode().split("|", 2)
                if kind == "c":
                    await client.zrem(f"{PREFIX}conns:{target}", member)
                    continue
                user = await self._leave(client, target, member, entry.decode(), key)
                if user is not None:
                    left.setdefault(target, []).append(user)
            await client.delete(key)
            logger.warning("realtime: process %s stopped beating; its members left", dead)
        return list(left.items())

    async def connection_open(self, user_id: str, member: str, limit: int) -> bool:
        process = _process_of(member)
        keys = [f"{PREFIX}conns:{user_id}", PROCESSES, _process_key(process)]
        args = [member, limit, settings.WS_PROCESS_TIMEOUT_SECONDS, f"c|{user_id}|{member}"]
        return bool(await self._client().eval(CONNECTION_OPEN, len(keys), *keys, *args))

    async def connection_close(self, user_id: str, member: str) -> None:
        async with self._client().pipeline(transaction=False) as pipe:
            pipe.zrem(f"{PREFIX}conns:{user_id}", member)
            pipe.srem(_process_key(_process_of(member)), f"c|{user_id}|{member}")
            await pipe.execute()

    async def presence_join(self, room: str, member: str, user: dict[str, Any]) -> bool:
        keys = [*_room_keys(room), _process_key(_process_of(member))]
        info = json.dumps(user, ensure_ascii=False, separators=(",", ":"))
        args = [member, user["id"], info, f"r|{room}|{member}"]
        return bool(await self._client().eval(PRESENCE_JOIN, len(keys), *keys, *args))

    async def presence_leave(self, room: str, member: str) -> dict[str, Any] | None:
        key = _process_key(_process_of(member))
        return await self._leave(self._client(), room, member, f"r|{room}|{member}", key)

    async def _leave(
        self, client: aioredis.Redis, room: str, member: str, entry: str, process_key: str
    ) -> dict[str, Any] | None:
        keys = [*_room_keys(room), process_key]
        info = await client.eval(PRESENCE_LEAVE, len(keys), *keys, member, entry)
        return json.loads(info) if info else None

    async def presence_online(self, room: str) -> list[dict[str, Any]]:
        values = await self._client().hvals(_room_keys(room)[2])
        return [json.loads(value) for value in values]

    # -- throttles and de-duplication --------------------------------------------------------
    async def typing_allowed(self, room: str, user_id: str) -> bool:
        key = f"{PREFIX}typing:{room}:{user_id}"
        return bool(await self._client().set(key, 1, px=1000, nx=True))

    async def claim_msg_id(self, user_id: str, msg_id: str) -> str | None:
        client = self._client()
        key = f"{PREFIX}msg:{user_id}:{msg_id}"
        ttl = settings.WS_MSG_ID_TTL_SECONDS
        if await client.set(key, "{}", ex=ttl, nx=True):
            return None
        seen = await client.get(key)
        return seen.decode() if seen is not None else "{}"

    async def store_ack(self, user_id: str, msg_id: str, extras: str) -> None:
        key = f"{PREFIX}msg:{user_id}:{msg_id}"
        await self._client().set(key, extras, ex=settings.WS_MSG_ID_TTL_SECONDS, xx=True)

    async def release_msg_id(self, user_id: str, msg_id: str) -> None:
        await self._client().delete(f"{PREFIX}msg:{user_id}:{msg_id}")

    def ping(self) -> None:
        self._sync.ping()
