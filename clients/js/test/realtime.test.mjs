import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay } from "../agora.js";
import { Proxy, USERS, comment, publishedPost, recorder, signedIn, waitFor } from "./helpers.mjs";

const [ALICE, BOB] = USERS;

test("backoff has full jitter between 0 and min(30 s, 0.5 s * 2^n)", () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 0);
  assert.equal(backoffDelay(0, { random: () => 0.999999 }).toFixed(0), "500");
  assert.equal(backoffDelay(3, { random: () => 0.5 }), 2000);
  assert.equal(backoffDelay(20, { random: () => 0.5 }), 15_000);
  const delays = Array.from({ length: 200 }, () => backoffDelay(4));
  assert.ok(delays.every((delay) => delay >= 0 && delay < 8000));
  assert.ok(new Set(delays).size > 150, "random, not fixed");
});

test("subscribe: comment events from REST, by room handler and by event name", async (t) => {
  const alice = await signedIn(t, ALICE);
  const bob = await signedIn(t, BOB);
  const post = await publishedPost(alice);
  await alice.connect();
  const room = `post:${post.id}`;
  const inRoom = recorder();
  const byName = recorder();
  alice.on("comment.created", byName);
  const ack = await alice.subscribe(room, inRoom);
  assert.equal(ack.room, room);

  const created = await comment(bob, post.id, "Grüße über den Socket");
  await waitFor(() => inRoom.calls.length === 1 && byName.calls.length === 1, {
    what: "the event",
  });
  const [frame] = inRoom.calls[0];
  assert.equal(frame.event, "comment.created");
  assert.equal(frame.data.id, created.id);
  assert.equal(frame.data.body, "Grüße über den Socket");
  assert.equal(byName.calls[0][0].id, created.id);
  assert.equal(alice.lastEventId(room), frame.id);

  await alice.unsubscribe(room);
  await comment(bob, post.id, "not for alice any more");
  await alice.send({ type: "ping" });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(inRoom.calls.length, 1);
});

test("the feed room gets post.published", async (t) => {
  const alice = await signedIn(t, ALICE);
  const bob = await signedIn(t, BOB);
  await alice.connect();
  const published = recorder();
  alice.on("post.published", published);
  await alice.subscribe("feed");
  const post = await publishedPost(bob, "Fresh in the feed");
  await waitFor(() => published.calls.some(([data]) => data.id === post.id), {
    what: "post.published",
  });
});

test("a room the user may not join is refused with forbidden", async (t) => {
  const alice = await signedIn(t, ALICE);
  await alice.connect();
  await assert.rejects(alice.subscribe("post:0190a1b2-0000-7000-8000-000000000000"), {
    code: "forbidden",
  });
  assert.deepEqual(alice.rooms, []);
});

test("presence: the full list, then joined and left", async (t) => {
  const alice = await signedIn(t, ALICE);
  const bob = await signedIn(t, BOB);
  const post = await publishedPost(alice);
  const room = `post:${post.id}`;
  await Promise.all([alice.connect(), bob.connect()]);
  const changes = recorder();
  alice.onPresence(room, changes);
  await alice.subscribe(room);
  await waitFor(() => alice.presence(room).size === 1, { what: "alice's own presence" });
  assert.equal([...alice.presence(room).values()][0].username, ALICE);

  await bob.subscribe(room);
  await waitFor(() => alice.presence(room).size === 2, { what: "bob joined" });
  await waitFor(() => bob.presence(room).size === 2, { what: "bob's full list" });
  const joined = changes.calls.find(([, diff]) => diff.joined.length);
  assert.equal(joined[1].joined[0].username, BOB);

  await bob.unsubscribe(room);
  await waitFor(() => alice.presence(room).size === 1, { what: "bob left" });
  const [online, diff] = changes.calls.at(-1);
  assert.deepEqual(
    online.map((user) => user.username),
    [ALICE],
  );
  assert.equal(diff.left[0].username, BOB);
});

test("typing: relayed to the others, throttled to one a second", async (t) => {
  const alice = await signedIn(t, ALICE);
  const bob = await signedIn(t, BOB);
  const post = await publishedPost(alice);
  const room = `post:${post.id}`;
  await Promise.all([alice.connect(), bob.connect()]);
  await Promise.all([alice.subscribe(room), bob.subscribe(room)]);
  const typing = recorder();
  alice.onTyping(room, typing);

  assert.equal(bob.typing(room), true);
  assert.equal(bob.typing(room), false, "throttled");
  await waitFor(() => typing.calls.length === 1, { what: "the typing frame" });
  const [users, user] = typing.calls[0];
  assert.equal(user.username, BOB);
  assert.deepEqual(
    users.map((u) => u.username),
    [BOB],
  );
  assert.deepEqual(alice.typingUsers(room), [user]);
  assert.equal(alice.typing("post:not-subscribed"), false);
});

test("typing ends after the timeout", async (t) => {
  const alice = await signedIn(t, ALICE, { typingTimeoutMs: 200 });
  const bob = await signedIn(t, BOB);
  const post = await publishedPost(alice);
  const room = `post:${post.id}`;
  await Promise.all([alice.connect(), bob.connect()]);
  await Promise.all([alice.subscribe(room), bob.subscribe(room)]);
  const typing = recorder();
  alice.onTyping(room, typing);
  bob.typing(room);
  await waitFor(() => typing.calls.length === 2, { what: "typing, then its end" });
  assert.deepEqual(typing.calls[1], [[], null]);
});

test("acks: by msg_id, a repeated msg_id is a duplicate, an error rejects", async (t) => {
  const alice = await signedIn(t, ALICE);
  await alice.connect();
  const msgId = crypto.randomUUID();
  const first = await alice.send({ type: "ping" }, { msgId });
  assert.equal(first.msg_id, msgId);
  assert.equal(first.duplicate, undefined);
  const again = await alice.send({ type: "ping" }, { msgId });
  assert.equal(again.duplicate, true);

  const generated = await alice.send({ type: "ping" });
  assert.match(generated.msg_id, /^[0-9a-f-]{36}$/);
  await assert.rejects(alice.send({ type: "typing", room: "feed" }), { code: "not_subscribed" });
  await assert.rejects(alice.send({ type: "no-such-frame" }), { code: "unknown_type" });
});

test("an ack that does not come in time rejects with timeout", async (t) => {
  const proxy = await new Proxy().start();
  t.after(() => proxy.stop());
  const alice = await signedIn(t, ALICE, { baseUrl: proxy.url });
  await alice.connect();
  proxy.freezeDown();
  await assert.rejects(alice.send({ type: "ping" }, { timeout: 300 }), { code: "timeout" });
});

test("offline queue: frames wait for the reconnect, bounded", async (t) => {
  const proxy = await new Proxy().start();
  t.after(() => proxy.stop());
  const alice = await signedIn(t, ALICE, { baseUrl: proxy.url, maxQueue: 2 });
  await alice.connect();
  proxy.refuse();
  proxy.drop();
  await waitFor(() => alice.state === "reconnecting", { what: "the drop" });
  const queued = [alice.send({ type: "ping" }), alice.send({ type: "ping" })];
  await assert.rejects(alice.send({ type: "ping" }), { code: "queue_full" });
  proxy.accept();
  const acks = await Promise.all(queued);
  assert.deepEqual(
    acks.map((ack) => ack.type),
    ["ack", "ack"],
  );
});

test("a frame whose ack was lost is re-sent with its msg_id: acked as a duplicate", async (t) => {
  const proxy = await new Proxy().start();
  t.after(() => proxy.stop());
  const alice = await signedIn(t, ALICE, { baseUrl: proxy.url });
  await alice.connect();
  proxy.freezeDown();
  const msgId = crypto.randomUUID();
  const answer = alice.send({ type: "ping" }, { msgId });
  await new Promise((resolve) => setTimeout(resolve, 300)); // the server handles it
  proxy.drop();
  const ack = await answer;
  assert.equal(ack.msg_id, msgId);
  assert.equal(ack.duplicate, true);
});

test("after a dropped socket: resubscribed, missed events replayed once", async (t) => {
  const proxy = await new Proxy().start();
  t.after(() => proxy.stop());
  const alice = await signedIn(t, ALICE, { baseUrl: proxy.url });
  const bob = await signedIn(t, BOB);
  const post = await publishedPost(bob);
  const room = `post:${post.id}`;
  await alice.connect();
  const events = recorder();
  const gaps = recorder();
  alice.onGap(gaps);
  await alice.subscribe(room, events);
  await comment(bob, post.id, "before the drop");
  await waitFor(() => events.calls.length === 1, { what: "the first event" });

  proxy.refuse();
  proxy.drop();
  await waitFor(() => alice.state === "reconnecting", { what: "the drop" });
  const missed = await comment(bob, post.id, "while alice was away");
  proxy.accept();
  await waitFor(() => events.calls.length === 2, { what: "the replayed event" });
  assert.equal(events.calls[1][0].data.id, missed.id);
  assert.equal(alice.state, "open");
  assert.deepEqual(alice.rooms, [room]);
  await waitFor(() => alice.presence(room).size === 1, { what: "presence again" });

  const live = await comment(bob, post.id, "after the reconnect");
  await waitFor(() => events.calls.length === 3, { what: "a live event" });
  assert.equal(events.calls[2][0].data.id, live.id);
  assert.equal(gaps.calls.length, 0);
});

test("events already seen are not handled twice when replayed", async (t) => {
  const proxy = await new Proxy().start();
  t.after(() => proxy.stop());
  const alice = await signedIn(t, ALICE, { baseUrl: proxy.url });
  const bob = await signedIn(t, BOB);
  const post = await publishedPost(bob);
  const room = `post:${post.id}`;
  await alice.connect();
  const events = recorder();
  await alice.subscribe(room, events);
  await comment(bob, post.id, "one");
  await comment(bob, post.id, "two");
  await waitFor(() => events.calls.length === 2, { what: "two events" });
  // Rewind the cursor to the first event (a test-only poke at the SDK's state): the server
  // replays the second one, which the client has seen and drops.
  alice._lastEventId.set(room, events.calls[0][0].id);
  proxy.drop();
  await waitFor(() => alice.state === "open" && alice.presence(room).size === 1, {
    what: "the reconnect",
  });
  await comment(bob, post.id, "three");
  await waitFor(() => events.calls.length === 3, { what: "the third event" });
  assert.deepEqual(
    events.calls.map(([frame]) => frame.data.body),
    ["one", "two", "three"],
  );
});

test("onGap: a resume from a cursor the server no longer keeps", async (t) => {
  const proxy = await new Proxy().start();
  t.after(() => proxy.stop());
  const alice = await signedIn(t, ALICE, { baseUrl: proxy.url });
  const bob = await signedIn(t, BOB);
  const post = await publishedPost(bob);
  const room = `post:${post.id}`;
  await alice.connect();
  const events = recorder();
  await alice.subscribe(room, events);
  await comment(bob, post.id, "seen");
  await waitFor(() => events.calls.length === 1, { what: "the event" });
  const gaps = recorder();
  alice.onGap(gaps);
  // A cursor from 1970: long out of the server's history.
  alice._lastEventId.set(room, "00000000-0000-7000-8000-000000000000");
  proxy.drop();
  await waitFor(() => gaps.calls.length === 1, { what: "the gap" });
  assert.equal(gaps.calls[0][0], room);
  assert.equal(gaps.calls[0][1].complete, false);
});
