// Shared pieces of the SDK's tests. They run against a real Agora server, started by
// tests/clients/test_js_sdk.py, which passes its URL and accounts in the environment:
//   AGORA_URL=http://127.0.0.1:PORT AGORA_USERS=name1,name2,… AGORA_PASSWORD=…
import net from "node:net";

import { AgoraClient } from "../agora.js";

export const BASE_URL = process.env.AGORA_URL;
export const USERS = (process.env.AGORA_USERS || "").split(",").filter(Boolean);
export const PASSWORD = process.env.AGORA_PASSWORD;

if (!BASE_URL || USERS.length < 4 || !PASSWORD) {
  throw new Error(
    "Run through tests/clients/test_js_sdk.py (AGORA_URL, AGORA_USERS, AGORA_PASSWORD).",
  );
}

/** A client with fast backoff, for tests; `close()` it (or use `track`). */
export function client(options = {}) {
  return new AgoraClient({ baseUrl: BASE_URL, backoffBaseMs: 50, backoffMaxMs: 500, ...options });
}

/** A signed-in client, closed when the test ends. */
export async function signedIn(t, username, options = {}) {
  const agora = client(options);
  await agora.login(username, PASSWORD);
  t.after(() => agora.close());
  return agora;
}

/** Resolves once `predicate()` is truthy (polled), rejects after `timeout` ms. */
export async function waitFor(predicate, { timeout = 5000, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Collects what a callback receives, for `waitFor`. */
export function recorder() {
  const calls = [];
  const record = (...args) => calls.push(args);
  record.calls = calls;
  return record;
}

/** A published post by `agora`'s user. */
export function publishedPost(agora, title = "SDK test post") {
  return agora.post("/api/v1/posts/", { title, body: "Über realtime.", status: "published" });
}

export function comment(agora, postId, body) {
  return agora.post(`/api/v1/posts/${postId}/comments/`, { body });
}

/**
 * A TCP forwarder in front of the server, so a test can take the network away: `drop()` cuts
 * every open connection (the client sees 1006), `freezeDown()` keeps them open but stops the
 * server's bytes from reaching the client (a frame is handled, its answer lost), `refuse()`
 * cuts new connections until `accept()`.
 */
export class Proxy {
  constructor(target = new URL(BASE_URL)) {
    this.target = target;
    this.sockets = new Set();
    this.frozen = false;
    this.refusing = false;
    this.server = net.createServer((downstream) => {
      if (this.refusing) {
        downstream.destroy();
        return;
      }
      const upstream = net.connect(Number(target.port), target.hostname);
      this.sockets.add(downstream).add(upstream);
      downstream.on("data", (chunk) => upstream.write(chunk));
      upstream.on("data", (chunk) => {
        if (!this.frozen) downstream.write(chunk);
      });
      for (const [a, b] of [
        [downstream, upstream],
        [upstream, downstream],
      ]) {
        a.on("close", () => {
          this.sockets.delete(a);
          b.destroy();
        });
        a.on("error", () => b.destroy());
      }
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  refuse() {
    this.refusing = true;
  }

  accept() {
    this.refusing = false;
  }

  freezeDown() {
    this.frozen = true;
  }

  drop() {
    this.frozen = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async stop() {
    this.drop();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A WebSocket class whose instances the test can reach (to fake a server's close code). */
export function trackedWebSocket() {
  const sockets = [];
  class Tracked extends WebSocket {
    constructor(...args) {
      super(...args);
      this.binary = [];
      sockets.push(this);
    }

    send(data) {
      if (typeof data !== "string") this.binary.push(data);
      super.send(data);
    }

    /** As if the server closed with `code`: the real socket goes, the SDK sees `code`. */
    fakeServerClose(code) {
      const onclose = this.onclose;
      this.onclose = null;
      this.close();
      onclose?.({ code, reason: "fake" });
    }
  }
  Tracked.sockets = sockets;
  return Tracked;
}
