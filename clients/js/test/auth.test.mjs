import assert from "node:assert/strict";
import { test } from "node:test";

import { AgoraClient, AgoraError } from "../agora.js";
import {
  PASSWORD,
  USERS,
  client,
  recorder,
  signedIn,
  trackedWebSocket,
  waitFor,
} from "./helpers.mjs";

const [ALICE, , CAROL, DAVE] = USERS;

test("login with a username, and refused with the contract's error code", async (t) => {
  const agora = await signedIn(t, ALICE);
  assert.ok(agora.accessToken);
  assert.ok(agora.refreshToken);
  const me = await agora.get("/api/v1/users/me");
  assert.equal(me.username, ALICE);

  const stranger = client();
  await assert.rejects(stranger.login(ALICE, "not the password"), (error) => {
    assert.ok(error instanceof AgoraError);
    assert.equal(error.status, 401);
    assert.equal(error.code, "invalid_credentials");
    assert.ok(error.requestId);
    return true;
  });
});

test("refresh rotates the pair; the old refresh token is dead", async (t) => {
  const agora = await signedIn(t, ALICE);
  const tokens = recorder();
  agora.onTokens(tokens);
  const before = agora.refreshToken;
  const [first, second] = await Promise.all([agora.refresh(), agora.refresh()]);
  assert.equal(first, second, "concurrent refreshes share one request");
  assert.notEqual(agora.refreshToken, before);
  assert.equal(tokens.calls.length, 1);

  const replay = client();
  replay.refreshToken = before;
  await assert.rejects(replay.refresh(), { code: "token_invalid", status: 401 });
});

test("a 401 refreshes the tokens and retries the request once", async (t) => {
  const agora = await signedIn(t, ALICE);
  const refreshToken = agora.refreshToken;
  agora.accessToken = "not-a-token";
  const me = await agora.get("/api/v1/users/me");
  assert.equal(me.username, ALICE);
  assert.notEqual(agora.refreshToken, refreshToken);
});

test("tokens are refreshed before they expire", async (t) => {
  const agora = client({ refreshMarginSeconds: 30 });
  t.after(() => agora.close());
  const tokens = await agora.login(ALICE, PASSWORD);
  const refreshed = recorder();
  agora.onTokens(refreshed);
  // As if the access token had one second left: the refresh is due at once.
  agora.setTokens({ ...tokens, expires_in: 1 });
  await waitFor(() => refreshed.calls.length >= 2, { what: "the refresh ahead of expiry" });
  assert.notEqual(agora.refreshToken, tokens.refresh_token);
  assert.equal((await agora.get("/api/v1/users/me")).username, ALICE);
});

test("each connect uses a new single-use ticket", async (t) => {
  const paths = [];
  const fetch = (url, init) => {
    paths.push(new URL(url).pathname);
    return globalThis.fetch(url, init);
  };
  const WebSocket = trackedWebSocket();
  const agora = await signedIn(t, ALICE, { fetch, WebSocket });
  await agora.connect();
  const firstUrl = WebSocket.sockets[0].url;
  assert.match(firstUrl, /\/ws\/v1\/\?ticket=/);
  assert.doesNotMatch(firstUrl, /token=/);

  WebSocket.sockets[0].fakeServerClose(1012);
  await waitFor(() => WebSocket.sockets.length === 2 && agora.state === "open", {
    what: "reconnect",
  });
  const tickets = paths.filter((path) => path.startsWith("/api/v1/auth/ws-ticket"));
  assert.equal(tickets.length, 2);
  assert.notEqual(WebSocket.sockets[1].url, firstUrl);
  assert.deepEqual(await agora.send({ type: "ping" }).then((ack) => ack.type), "ack");

  // A used ticket is refused with 4401.
  const reused = new globalThis.WebSocket(firstUrl);
  const code = await new Promise((resolve) => (reused.onclose = (event) => resolve(event.code)));
  assert.equal(code, 4401);
});

test("4401: refresh, then reconnect", async (t) => {
  const WebSocket = trackedWebSocket();
  const agora = await signedIn(t, ALICE, { WebSocket });
  await agora.connect();
  const refreshToken = agora.refreshToken;
  WebSocket.sockets[0].fakeServerClose(4401);
  await waitFor(() => WebSocket.sockets.length === 2 && agora.state === "open", {
    what: "reconnect",
  });
  assert.notEqual(agora.refreshToken, refreshToken);
});

test("4401 after the login ended everywhere: the refresh fails and the client stops", async (t) => {
  const agora = await signedIn(t, CAROL);
  const statuses = recorder();
  agora.onStatus(statuses);
  await agora.connect();
  const other = await signedIn(t, CAROL);
  await other.request("POST", "/api/v1/auth/logout-all");

  await waitFor(() => agora.state === "stopped", { what: "the stop" });
  const [, detail] = statuses.calls.at(-1);
  assert.equal(detail.code, 4401);
  assert.equal(detail.reason, "unauthenticated");
  assert.equal(agora.accessToken, null, "signed out");
  await assert.rejects(agora.send({ type: "ping" }), { code: "offline" });
});

test("4403 and 4400 stop; 1013 and 4429 reconnect", async (t) => {
  for (const [code, expected] of [
    [4403, "stopped"],
    [4400, "stopped"],
    [1013, "open"],
    [4429, "open"],
  ]) {
    const WebSocket = trackedWebSocket();
    const agora = await signedIn(t, DAVE, { WebSocket });
    await agora.connect();
    WebSocket.sockets[0].fakeServerClose(code);
    await waitFor(
      () => agora.state === expected && WebSocket.sockets.length === (expected === "open" ? 2 : 1),
      {
        what: `${expected} after ${code}`,
      },
    );
    agora.close();
  }
});

test("a server that is not there: connect keeps retrying with backoff until closed", async () => {
  const agora = new AgoraClient({
    baseUrl: "http://127.0.0.1:9",
    backoffBaseMs: 10,
    backoffMaxMs: 40,
  });
  agora.setTokens({ access_token: "a", refresh_token: "r" });
  const statuses = recorder();
  agora.onStatus(statuses);
  const connected = agora.connect();
  await waitFor(() => statuses.calls.filter(([s]) => s === "reconnecting").length >= 6, {
    what: "retries",
  });
  agora.close();
  await assert.rejects(connected, { code: "closed" });
  assert.equal(agora.state, "closed");
});
