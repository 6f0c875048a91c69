/**
 * Agora's JavaScript SDK: REST auth and the `/ws/v1/` realtime protocol in one ES module.
 *
 * No dependencies and no build step. Runs in browsers and in Node >= 20 (Node 20 needs
 * `--experimental-websocket` for its global WebSocket, or pass a `WebSocket` constructor).
 * README.md beside this file is the guide; the protocol is docs/websocket.md and
 * ../shared/API.md.
 */

const DEFAULTS = {
  ackTimeoutMs: 10_000,
  maxQueue: 100,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
  typingIntervalMs: 1_000,
  typingTimeoutMs: 3_000,
  pingIntervalMs: 25_000,
  pongTimeoutMs: 10_000,
  refreshMarginSeconds: 30,
  stableAfterMs: 10_000,
  uploadChunkBytes: 256 * 1024,
  uploadWindow: 4,
  uploadMinChunkIntervalMs: 60,
};
const SEEN_EVENT_IDS = 5_000;
const STOP_CODES = new Set([4400, 4403]);
const UNAUTHENTICATED = 4401;

/** An error answered by the API (REST envelope or WebSocket `error` frame), or by the SDK. */
export class AgoraError extends Error {
  constructor(
    code,
    message,
    { status = null, details = null, requestId = null, frame = null } = {},
  ) {
    super(message || code);
    this.name = "AgoraError";
    this.code = code;
    this.status = status;
    this.details = details;
    this.requestId = requestId;
    this.frame = frame;
  }
}

/** Full jitter: a random wait in [0, min(max, base * 2^attempt)) milliseconds. */
export function backoffDelay(attempt, { baseMs = 500, maxMs = 30_000, random = Math.random } = {}) {
  return random() * Math.min(maxMs, baseMs * 2 ** attempt);
}

/** Hex SHA-256 of bytes, by WebCrypto (browsers and Node alike). */
export async function sha256Hex(bytes) {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A binary upload chunk: 16 bytes upload id + 8 bytes big-endian offset + the data. */
export function uploadChunk(uploadId, offset, data) {
  const hex = uploadId.replaceAll("-", "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new AgoraError("invalid", "Not a UUID: " + uploadId);
  const frame = new Uint8Array(24 + data.byteLength);
  for (let i = 0; i < 16; i += 1) frame[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  new DataView(frame.buffer).setBigUint64(16, BigInt(offset), false);
  frame.set(data, 24);
  return frame;
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function unref(timer) {
  if (timer && typeof timer.unref === "function") timer.unref();
  return timer;
}

/** An answer that retrying cannot change (a 4xx but 429), as opposed to an outage. */
function refused(error) {
  return (
    error instanceof AgoraError &&
    error.status !== null &&
    error.status < 500 &&
    error.status !== 429
  );
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data && typeof data.arrayBuffer === "function")
    return new Uint8Array(await data.arrayBuffer());
  throw new AgoraError(
    "invalid",
    "upload() takes a Blob, File, ArrayBuffer, typed array or string.",
  );
}

/** A tiny listener registry: `on` returns the function that removes the listener. */
class Listeners {
  constructor() {
    this.map = new Map();
  }

  on(key, fn) {
    if (!this.map.has(key)) this.map.set(key, new Set());
    this.map.get(key).add(fn);
    return () => this.off(key, fn);
  }

  off(key, fn) {
    const set = this.map.get(key);
    if (!set) return;
    set.delete(fn);
    if (set.size === 0) this.map.delete(key);
  }

  emit(key, ...args) {
    for (const fn of [...(this.map.get(key) || [])]) {
      try {
        fn(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

export class AgoraClient {
  /**
   * @param {object} options
   * @param {string} options.baseUrl  e.g. "https://agora.example.org" (REST and WebSocket)
   * @param {Function} [options.WebSocket]  constructor, default globalThis.WebSocket
   * @param {Function} [options.fetch]  default globalThis.fetch
   */
  constructor({ baseUrl, WebSocket, fetch, random, ...options } = {}) {
    if (!baseUrl) throw new TypeError("AgoraClient needs a baseUrl");
    this.baseUrl = String(baseUrl).replace(/\/+$/, "");
    this.options = { ...DEFAULTS, ...options };
    this._WebSocket = WebSocket || globalThis.WebSocket;
    this._fetch = fetch || globalThis.fetch.bind(globalThis);
    this._random = random || Math.random;
    this.accessToken = null;
    this.refreshToken = null;
    this._refreshing = null;
    this._refreshTimer = null;

    this.state = "idle";
    this._ws = null;
    this._wanted = false;
    this._attempt = 0;
    this._reconnectTimer = null;
    this._pingTimer = null;
    this._stableTimer = null;
    this._lastReceived = 0;
    this._opened = null;

    this._pending = new Map(); // msg_id -> {frame, resolve, reject, timer, replay, sent}
    this._rooms = new Map(); // room -> {ready: deferred, acked: subscribed once already}
    this._lastEventId = new Map(); // room -> last event id seen
    this._newestEventId = "";
    this._seen = new Set();
    this._presence = new Map(); // room -> Map(id -> user)
    this._typing = new Map(); // room -> Map(id -> {user, timer})
    this._typingSent = new Map(); // room -> ms timestamp
    this._uploads = new Map(); // upload_id -> UploadState (routes progress frames)
    this._uploadStates = new Set(); // every upload in progress (woken on open and close)

    this._events = new Listeners();
    this._roomEvents = new Listeners();
    this._presenceListeners = new Listeners();
    this._typingListeners = new Listeners();
    this._misc = new Listeners(); // "gap", "status", "error", "tokens"
  }

  // -- REST and auth ---------------------------------------------------------------------------

  /** Sign in with a username or an email; stores and returns the token pair. */
  async login(username, password) {
    const tokens = await this.request("POST", "/api/v1/auth/token", {
      body: { grant_type: "password", username, password },
      auth: false,
    });
    this.setTokens(tokens);
    return tokens;
  }

  /** Use a token pair from elsewhere (`{access_token, refresh_token, expires_in}`). */
  setTokens(tokens) {
    clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    if (!tokens) {
      this.accessToken = null;
      this.refreshToken = null;
      this._misc.emit("tokens", null);
      return;
    }
    this.accessToken = tokens.access_token;
    this.refreshToken = tokens.refresh_token ?? this.refreshToken;
    const lifetime = Number(tokens.expires_in);
    if (this.refreshToken && Number.isFinite(lifetime) && lifetime > 0) {
      const margin = Math.min(this.options.refreshMarginSeconds, lifetime / 5);
      this._refreshTimer = unref(
        setTimeout(() => this._refreshAhead(), Math.max(1, lifetime - margin) * 1000),
      );
    }
    this._misc.emit("tokens", { ...tokens });
  }

  async _refreshAhead() {
    try {
      await this.refresh();
    } catch (error) {
      if (!refused(error))
        this._refreshTimer = unref(setTimeout(() => this._refreshAhead(), 5_000));
    }
  }

  /**
   * A new token pair from the refresh token (rotated: the old one is dead afterwards). Calls at
   * the same time share one request. A refused refresh signs the client out.
   */
  refresh() {
    if (this._refreshing) return this._refreshing;
    if (!this.refreshToken) {
      return Promise.reject(
        new AgoraError("not_authenticated", "No refresh token.", { status: 401 }),
      );
    }
    this._refreshing = (async () => {
      try {
        const tokens = await this.request("POST", "/api/v1/auth/token/refresh", {
          body: { refresh_token: this.refreshToken },
          auth: false,
        });
        this.setTokens(tokens);
        return tokens;
      } catch (error) {
        if (refused(error)) this.setTokens(null);
        throw error;
      } finally {
        this._refreshing = null;
      }
    })();
    return this._refreshing;
  }

  /** Ends this login on the server (its refresh token dies) and closes the socket. */
  async logout() {
    const refreshToken = this.refreshToken;
    this.close();
    this._forget();
    if (refreshToken) {
      try {
        await this.request("POST", "/api/v1/auth/logout", {
          body: { refresh_token: refreshToken },
          auth: false,
        });
      } finally {
        this.setTokens(null);
      }
    } else {
      this.setTokens(null);
    }
  }

  /** Drop every room and cursor: the next user of this client starts afresh. */
  _forget() {
    for (const room of this._rooms.keys()) this._clearRoomState(room);
    this._rooms.clear();
    this._lastEventId.clear();
    this._newestEventId = "";
    this._seen.clear();
    this._typingSent.clear();
    this._roomEvents.map.clear();
    this._presenceListeners.map.clear();
    this._typingListeners.map.clear();
  }

  /** A single-use WebSocket ticket (valid 30 s). */
  async wsTicket() {
    const answer = await this.request("POST", "/api/v1/auth/ws-ticket");
    return answer.ticket;
  }

  /**
   * A REST call under `baseUrl`. JSON in and out; a 401 with a token is retried once after a
   * refresh. Errors are thrown as AgoraError with the contract's `code`.
   */
  async request(method, path, { body, query, headers = {}, auth = true, retry = true } = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const sent = { Accept: "application/json", ...headers };
    if (body !== undefined) sent["Content-Type"] = "application/json";
    const token = auth ? this.accessToken : null;
    if (token) sent.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await this._fetch(url, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new AgoraError("network_error", `Could not reach ${url.origin}: ${error.message}`);
    }
    if (response.status === 401 && token && retry && this.refreshToken) {
      await this.refresh();
      return this.request(method, path, { body, query, headers, auth, retry: false });
    }
    const text = await response.text();
    let payload = null;
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = text;
      }
    }
    if (!response.ok) {
      const error = (payload && payload.error) || {};
      throw new AgoraError(
        error.code || `http_${response.status}`,
        error.message || response.statusText,
        {
          status: response.status,
          details: error.details || null,
          requestId: error.request_id || response.headers.get("X-Request-ID"),
        },
      );
    }
    return payload;
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, body, headers) {
    return this.request("POST", path, { body, headers });
  }

  // -- listeners -------------------------------------------------------------------------------

  /** `handler(data, frame)` for every event named `event` ("comment.created"…; "*": all). */
  on(event, handler) {
    return this._events.on(event, handler);
  }

  /** `handler(status, detail)`: "connecting", "open", "reconnecting", "closed", "stopped". */
  onStatus(handler) {
    return this._misc.on("status", handler);
  }

  /** `handler(room, resumedFrame)` when events of `room` may be missing: reload it over REST. */
  onGap(handler) {
    return this._misc.on("gap", handler);
  }

  /** `handler(error)` for `error` frames that answer no frame of ours (rate_limited…). */
  onError(handler) {
    return this._misc.on("error", handler);
  }

  /** `handler(tokens | null)` whenever the token pair changes (null: signed out). */
  onTokens(handler) {
    return this._misc.on("tokens", handler);
  }

  // -- connection ------------------------------------------------------------------------------

  /** Open the socket (and keep it open, reconnecting, until `close`). Resolves once open. */
  connect() {
    if (!this._wanted) {
      this._wanted = true;
      this._opened = deferred();
      this._attempt = 0;
      this._open();
    }
    return this._opened.promise;
  }

  /** Close for good: pending acks, queued frames and uploads are rejected. */
  close() {
    this._stop("closed", { code: 1000, reason: "closed" });
  }

  _setStatus(status, detail = {}) {
    this.state = status;
    this._misc.emit("status", status, detail);
  }

  async _open() {
    this._reconnectTimer = null;
    if (!this._wanted) return;
    this._setStatus(this._attempt === 0 ? "connecting" : "reconnecting", {
      attempt: this._attempt,
    });
    let ticket;
    try {
      ticket = await this.wsTicket();
    } catch (error) {
      if (!this._wanted) return;
      if (refused(error)) this._stop("stopped", { reason: "unauthenticated", error });
      else this._scheduleReconnect({ reason: "ticket", error });
      return;
    }
    if (!this._wanted) return;
    const url = new URL(`${this.baseUrl}/ws/v1/`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("ticket", ticket);
    let ws;
    try {
      ws = new this._WebSocket(url.toString());
    } catch (error) {
      this._scheduleReconnect({ reason: "socket", error });
      return;
    }
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    ws.onopen = () => {
      if (this._ws === ws) this._onOpen();
    };
    ws.onmessage = (message) => {
      if (this._ws === ws) this._onMessage(message.data);
    };
    ws.onclose = (close) => {
      if (this._ws === ws) this._onClose(close.code, close.reason);
    };
    ws.onerror = () => {};
  }

  _onOpen() {
    this._lastReceived = Date.now();
    this._setStatus("open", { attempt: this._attempt });
    this._stableTimer = unref(setTimeout(() => (this._attempt = 0), this.options.stableAfterMs));
    this._pingTimer = unref(setInterval(() => this._heartbeat(), this.options.pingIntervalMs));
    for (const room of this._rooms.keys()) this._subscribeFrame(room);
    for (const [room, since] of this._lastEventId) {
      if (room.startsWith("user:")) {
        this.send({ type: "resume", room, since }, { replay: false }).catch(() => {});
      }
    }
    for (const entry of this._pending.values()) {
      if (entry.replay) this._transmit(entry);
    }
    for (const upload of this._uploadStates) upload.wake();
    this._opened.resolve();
  }

  _heartbeat() {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return;
    if (
      Date.now() - this._lastReceived >
      this.options.pingIntervalMs + this.options.pongTimeoutMs
    ) {
      // Nothing came back, not even our last ping's pong: the network is gone.
      this._detach(ws);
      this._onClose(1006, "no pong");
      return;
    }
    ws.send(JSON.stringify({ type: "ping" }));
  }

  _detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(1000);
    } catch {
      // Already closing.
    }
  }

  _onClose(code, reason) {
    this._ws = null;
    clearInterval(this._pingTimer);
    clearTimeout(this._stableTimer);
    for (const [msgId, entry] of this._pending) {
      clearTimeout(entry.timer);
      entry.timer = null;
      entry.sent = false;
      if (!entry.replay) {
        this._pending.delete(msgId);
        entry.reject(new AgoraError("disconnected", "The connection closed before the answer."));
      }
    }
    for (const room of this._rooms.keys()) this._clearRoomState(room);
    for (const upload of this._uploadStates) upload.wake();
    if (!this._wanted) return;
    if (STOP_CODES.has(code)) {
      this._stop("stopped", { code, reason: code === 4403 ? "origin" : "bad_frame" });
    } else if (code === UNAUTHENTICATED) {
      this._reauthenticate(code);
    } else {
      this._scheduleReconnect({ code, reason });
    }
  }

  async _reauthenticate(code) {
    this._setStatus("reconnecting", { code, reason: "refreshing" });
    try {
      await this.refresh();
    } catch (error) {
      if (refused(error)) {
        this._stop("stopped", { code, reason: "unauthenticated", error });
        return;
      }
    }
    this._scheduleReconnect({ code, reason: "refreshed" });
  }

  _scheduleReconnect(detail) {
    if (!this._wanted) return;
    const delay = backoffDelay(this._attempt, {
      baseMs: this.options.backoffBaseMs,
      maxMs: this.options.backoffMaxMs,
      random: this._random,
    });
    this._attempt += 1;
    this._setStatus("reconnecting", { ...detail, attempt: this._attempt, delay });
    this._reconnectTimer = setTimeout(() => this._open(), delay);
  }

  _stop(status, detail) {
    const wasWanted = this._wanted;
    this._wanted = false;
    clearTimeout(this._reconnectTimer);
    clearInterval(this._pingTimer);
    clearTimeout(this._stableTimer);
    const ws = this._ws;
    this._ws = null;
    if (ws) this._detach(ws);
    const error = new AgoraError(detail.reason, `Connection ${status} (${detail.reason}).`, {
      frame: detail,
    });
    for (const entry of this._pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    this._pending.clear();
    for (const upload of this._uploadStates) upload.fail(error);
    for (const room of this._rooms.keys()) this._clearRoomState(room);
    if (this._opened) this._opened.reject(error);
    if (wasWanted || this.state !== status) this._setStatus(status, detail);
  }

  // -- frames ----------------------------------------------------------------------------------

  /**
   * Send a frame with a `msg_id` (generated unless given); resolves with its `ack`, rejects with
   * an AgoraError for its `error` frame or when no answer came within `timeout` ms of sending.
   * Offline, the frame waits in a bounded queue and goes out after the reconnect with the same
   * `msg_id`, so a frame the server already handled is acked as a duplicate, not redone.
   */
  send(frame, { msgId, timeout, replay = true } = {}) {
    const msg_id = msgId ?? globalThis.crypto.randomUUID();
    if (this._pending.has(msg_id)) {
      return Promise.reject(new AgoraError("invalid", `msg_id ${msg_id} is already waiting.`));
    }
    const online = this._ws && this._ws.readyState === 1 && this.state === "open";
    if (!online) {
      if (!replay || !this._wanted) {
        return Promise.reject(new AgoraError("offline", "Not connected."));
      }
      const queued = [...this._pending.values()].filter((entry) => !entry.sent).length;
      if (queued >= this.options.maxQueue) {
        return Promise.reject(new AgoraError("queue_full", "The offline queue is full."));
      }
    }
    const done = deferred();
    const entry = {
      frame: { ...frame, msg_id },
      resolve: done.resolve,
      reject: done.reject,
      timer: null,
      replay,
      sent: false,
      timeout: timeout ?? this.options.ackTimeoutMs,
    };
    this._pending.set(msg_id, entry);
    if (online) this._transmit(entry);
    return done.promise;
  }

  _transmit(entry) {
    const msgId = entry.frame.msg_id;
    this._ws.send(JSON.stringify(entry.frame));
    entry.sent = true;
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      if (this._pending.get(msgId) !== entry) return;
      this._pending.delete(msgId);
      entry.reject(
        new AgoraError("timeout", `No answer to ${entry.frame.type} within ${entry.timeout} ms.`),
      );
    }, entry.timeout);
  }

  _settle(msgId, settle) {
    const entry = this._pending.get(msgId);
    if (!entry) return false;
    this._pending.delete(msgId);
    clearTimeout(entry.timer);
    settle(entry);
    return true;
  }

  _onMessage(data) {
    this._lastReceived = Date.now();
    if (typeof data !== "string") return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "ack":
        this._attempt = 0;
        this._settle(frame.msg_id, (entry) => entry.resolve(frame));
        break;
      case "error":
        this._onErrorFrame(frame);
        break;
      case "event":
        this._onEvent(frame);
        break;
      case "presence":
        this._onPresence(frame);
        break;
      case "typing":
        this._onTyping(frame);
        break;
      case "resumed":
        if (!frame.complete) this._misc.emit("gap", frame.room, frame);
        break;
      case "upload.progress":
      case "upload.done":
        this._uploads.get(frame.upload_id ?? frame.upload?.id)?.receive(frame);
        break;
      default:
        break;
    }
  }

  _onErrorFrame(frame) {
    const error = new AgoraError(frame.code, frame.message, { frame });
    if (frame.msg_id !== undefined && this._settle(frame.msg_id, (entry) => entry.reject(error))) {
      return;
    }
    const upload = frame.upload_id && this._uploads.get(frame.upload_id);
    if (upload) {
      upload.fail(error);
      return;
    }
    this._misc.emit("error", error);
  }

  _onEvent(frame) {
    if (this._seen.has(frame.id)) return;
    this._seen.add(frame.id);
    if (this._seen.size > SEEN_EVENT_IDS) this._seen.delete(this._seen.values().next().value);
    if (frame.id > (this._lastEventId.get(frame.room) || ""))
      this._lastEventId.set(frame.room, frame.id);
    if (frame.id > this._newestEventId) this._newestEventId = frame.id;
    this._roomEvents.emit(frame.room, frame);
    this._events.emit(frame.event, frame.data, frame);
    this._events.emit("*", frame.data, frame);
  }

  // -- rooms -----------------------------------------------------------------------------------

  /**
   * Join `room` ("post:<id>", "feed"…) and call `handler(frame)` for each of its events.
   * Resolves with the ack; rejects with AgoraError("forbidden") for a room the user may not join.
   * While offline the subscription is made when the socket opens.
   */
  subscribe(room, handler) {
    let entry = this._rooms.get(room);
    if (!entry) {
      entry = { ready: deferred(), acked: false };
      this._rooms.set(room, entry);
      if (this.state === "open") this._subscribeFrame(room);
    }
    if (handler) this._roomEvents.on(room, handler);
    return entry.ready.promise;
  }

  /** Leave `room` (or only drop `handler` when given and others remain). */
  async unsubscribe(room, handler) {
    if (handler) {
      this._roomEvents.off(room, handler);
      if (this._roomEvents.map.has(room)) return null;
    }
    this._roomEvents.map.delete(room);
    if (!this._rooms.delete(room)) return null;
    this._clearRoomState(room);
    this._lastEventId.delete(room);
    this._presenceListeners.map.delete(room);
    this._typingListeners.map.delete(room);
    if (this.state !== "open") return null;
    return this.send({ type: "unsubscribe", room }, { replay: false });
  }

  /** Rooms subscribed to (the user's own room is joined by the server and not listed). */
  get rooms() {
    return [...this._rooms.keys()];
  }

  /** The last event id seen in `room`, used as `since` when re-subscribing. */
  lastEventId(room) {
    return this._lastEventId.get(room) ?? null;
  }

  _subscribeFrame(room) {
    const entry = this._rooms.get(room);
    // Again after a reconnect: from the room's own cursor, else from the newest id seen
    // anywhere (event ids increase across rooms); with neither, nothing proves no gap.
    const resuming = entry.acked;
    const since = resuming ? this._lastEventId.get(room) || this._newestEventId : "";
    const frame = since ? { type: "subscribe", room, since } : { type: "subscribe", room };
    this.send(frame, { replay: false }).then(
      (ack) => {
        entry.acked = true;
        if (resuming && !since) {
          this._misc.emit("gap", room, { type: "resumed", room, count: 0, complete: false });
        }
        entry.ready.resolve(ack);
      },
      (error) => {
        if (error.code === "disconnected" || error.code === "timeout") return;
        if (this._rooms.get(room) === entry) {
          this._rooms.delete(room);
          this._roomEvents.map.delete(room);
        }
        entry.ready.reject(error);
        if (resuming) this._misc.emit("error", error);
      },
    );
  }

  _clearRoomState(room) {
    this._presence.delete(room);
    const typing = this._typing.get(room);
    if (typing) for (const { timer } of typing.values()) clearTimeout(timer);
    this._typing.delete(room);
  }

  // -- presence and typing ---------------------------------------------------------------------

  /** Who is online in a post room now: a Map of user id -> {id, username}. */
  presence(room) {
    return new Map(this._presence.get(room) || []);
  }

  /** `handler(online, {joined, left})` on every presence change of `room`. */
  onPresence(room, handler) {
    return this._presenceListeners.on(room, handler);
  }

  _onPresence(frame) {
    let online = this._presence.get(frame.room);
    if (Array.isArray(frame.online)) online = new Map();
    online = online || new Map();
    for (const user of frame.online || []) online.set(user.id, user);
    for (const user of frame.joined || []) online.set(user.id, user);
    for (const user of frame.left || []) online.delete(user.id);
    this._presence.set(frame.room, online);
    this._presenceListeners.emit(frame.room, [...online.values()], {
      joined: frame.joined || [],
      left: frame.left || [],
    });
  }

  /** Tell the room's other members the user is typing; at most once per second per room. */
  typing(room) {
    const now = Date.now();
    if (now - (this._typingSent.get(room) || 0) < this.options.typingIntervalMs) return false;
    if (this.state !== "open" || !this._rooms.has(room)) return false;
    this._typingSent.set(room, now);
    this._ws.send(JSON.stringify({ type: "typing", room }));
    return true;
  }

  /** Users typing in `room` now (each for `typingTimeoutMs` after their last typing frame). */
  typingUsers(room) {
    return [...(this._typing.get(room) || new Map()).values()].map(({ user }) => user);
  }

  /** `handler(typingUsers, user)`: on a typing frame (`user`), and when one expires (null). */
  onTyping(room, handler) {
    return this._typingListeners.on(room, handler);
  }

  _onTyping(frame) {
    const { room, user } = frame;
    if (!this._typing.has(room)) this._typing.set(room, new Map());
    const typing = this._typing.get(room);
    clearTimeout(typing.get(user.id)?.timer);
    const timer = unref(
      setTimeout(() => {
        typing.delete(user.id);
        this._typingListeners.emit(room, this.typingUsers(room), null);
      }, this.options.typingTimeoutMs),
    );
    typing.set(user.id, { user, timer });
    this._typingListeners.emit(room, this.typingUsers(room), user);
  }

  // -- uploads ---------------------------------------------------------------------------------

  /**
   * Upload a file over the socket in binary chunks; resolves with the Upload object. Survives
   * reconnects: after one it asks the server how much arrived (`upload.begin` with the
   * `upload_id`) and continues from there. `uploadId` resumes an upload of an earlier session.
   */
  async upload(data, { name, contentType, onProgress, uploadId, signal } = {}) {
    const bytes = await toBytes(data);
    if (bytes.byteLength === 0)
      throw new AgoraError("invalid", "An upload needs at least one byte.");
    const begin = {
      type: "upload.begin",
      name: name || data?.name || "upload",
      size: bytes.byteLength,
      content_type: contentType || data?.type || "application/octet-stream",
      sha256: await sha256Hex(bytes),
    };
    const state = new UploadState(this, bytes, onProgress);
    this._uploadStates.add(state);
    const abort = () => state.fail(new AgoraError("aborted", "Upload aborted."));
    signal?.addEventListener("abort", abort);
    if (signal?.aborted) abort();
    try {
      for (;;) {
        if (state.failed) throw state.failed;
        if (state.done) return state.done;
        if (this.state !== "open") {
          if (!this._wanted) throw new AgoraError("offline", "Not connected.");
          await state.sleep();
          continue;
        }
        if (uploadId) this._uploads.set(uploadId, state);
        let ack;
        try {
          // A new msg_id each time: this asks where the upload stands now.
          ack = await this.send(uploadId ? { ...begin, upload_id: uploadId } : begin, {
            replay: false,
          });
        } catch (error) {
          if (["disconnected", "timeout", "offline"].includes(error.code)) continue;
          throw error;
        }
        uploadId = ack.upload_id;
        this._uploads.set(uploadId, state);
        state.received = ack.received ?? 0;
        state.progress(state.received);
        const finished = await state.pump(uploadId, state.received);
        if (finished) return finished;
      }
    } finally {
      signal?.removeEventListener("abort", abort);
      this._uploadStates.delete(state);
      if (uploadId) this._uploads.delete(uploadId);
    }
  }
}

/** One upload in flight: chunks out, `upload.progress`/`upload.done` in. */
class UploadState {
  constructor(client, bytes, onProgress) {
    this.client = client;
    this.bytes = bytes;
    this.onProgress = onProgress;
    this.received = 0;
    this.done = null;
    this.failed = null;
    this._waiter = null;
  }

  /** Wait until something happens: a frame arrives, the socket opens or closes. */
  sleep() {
    if (!this._waiter) this._waiter = deferred();
    return this._waiter.promise;
  }

  wake() {
    const waiter = this._waiter;
    this._waiter = null;
    waiter?.resolve();
  }

  fail(error) {
    this.failed = this.failed || error;
    this.wake();
  }

  progress(received) {
    if (received > this.received) this.received = received;
    this.onProgress?.({ received: this.received, size: this.bytes.byteLength });
  }

  receive(frame) {
    if (frame.type === "upload.done") {
      this.done = frame.upload;
      this.progress(this.bytes.byteLength);
    } else {
      this.progress(frame.received);
    }
    this.wake();
  }

  /** Send chunks from `offset`, at most `uploadWindow` ahead of the server's progress. Returns
   * the Upload when done, or null when the connection dropped (the caller re-begins). */
  async pump(uploadId, offset) {
    const { uploadChunkBytes, uploadWindow, uploadMinChunkIntervalMs } = this.client.options;
    const ws = this.client._ws;
    let next = offset;
    while (!this.done) {
      if (this.failed) throw this.failed;
      if (this.client._ws !== ws || this.client.state !== "open") return null;
      const inFlight = next - this.received;
      if (next < this.bytes.byteLength && inFlight < uploadWindow * uploadChunkBytes) {
        const end = Math.min(next + uploadChunkBytes, this.bytes.byteLength);
        ws.send(uploadChunk(uploadId, next, this.bytes.subarray(next, end)));
        next = end;
        await sleep(uploadMinChunkIntervalMs);
        continue;
      }
      await this.sleep();
    }
    return this.done;
  }
}
