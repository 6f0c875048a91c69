import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { uploadChunk } from "../agora.js";
import { Proxy, USERS, recorder, signedIn, trackedWebSocket, waitFor } from "./helpers.mjs";

const [, , , DAVE] = USERS;
const CHUNK = 256 * 1024;

/** Plain UTF-8 text of about `bytes` bytes (uploads are recognised by their bytes). */
function text(bytes) {
  const lines = [];
  let size = 0;
  for (let n = 0; size < bytes; n += 1) {
    const line = `Zeile ${n}: Grüße über den Socket\n`;
    lines.push(line);
    size += Buffer.byteLength(line);
  }
  return new TextEncoder().encode(lines.join(""));
}

function offsetOf(frame) {
  return Number(new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getBigUint64(16));
}

test("a chunk is 16 bytes of upload id, 8 bytes of big-endian offset, then the data", () => {
  const frame = uploadChunk(
    "01a201ab-1ae0-77d8-a943-5a114e146b94",
    2 ** 40 + 5,
    new Uint8Array([7, 8]),
  );
  assert.equal(
    Buffer.from(frame.subarray(0, 16)).toString("hex"),
    "01a201ab1ae077d8a9435a114e146b94",
  );
  assert.equal(offsetOf(frame), 2 ** 40 + 5);
  assert.deepEqual([...frame.subarray(24)], [7, 8]);
});

test("upload over the socket: chunks, progress, then the Upload", async (t) => {
  const agora = await signedIn(t, DAVE);
  await agora.connect();
  const bytes = text(CHUNK * 2 + 1000);
  const progress = recorder();
  const upload = await agora.upload(bytes, {
    name: "zeilen.txt",
    contentType: "text/plain",
    onProgress: progress,
  });

  assert.equal(upload.size, bytes.byteLength);
  assert.equal(upload.sha256, createHash("sha256").update(bytes).digest("hex"));
  assert.equal(upload.content_type, "text/plain");
  assert.equal(upload.name, "zeilen.txt");
  const received = progress.calls.map(([p]) => p.received);
  assert.deepEqual(
    received,
    [...received].sort((a, b) => a - b),
    "progress only grows",
  );
  assert.equal(received.at(-1), bytes.byteLength);
  assert.ok(received.includes(CHUNK), "progress per chunk");

  const response = await fetch(`${agora.baseUrl}/api/v1/uploads/${upload.id}/content`, {
    headers: { Authorization: `Bearer ${agora.accessToken}` },
  });
  assert.equal(response.status, 200);
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes);
});

test("an upload resumes after a dropped connection, from what the server received", async (t) => {
  const proxy = await new Proxy().start();
  t.after(() => proxy.stop());
  const WebSocket = trackedWebSocket();
  const agora = await signedIn(t, DAVE, { baseUrl: proxy.url, WebSocket });
  await agora.connect();
  const bytes = text(CHUNK * 6);
  let dropped = false;
  const upload = await agora.upload(new Blob([bytes], { type: "text/plain" }), {
    name: "resumed.txt",
    onProgress: ({ received }) => {
      if (!dropped && received >= CHUNK) {
        dropped = true;
        proxy.drop();
      }
    },
  });

  assert.ok(dropped);
  assert.equal(WebSocket.sockets.length, 2, "one reconnect");
  assert.equal(upload.sha256, createHash("sha256").update(bytes).digest("hex"));
  const offsets = WebSocket.sockets.flatMap((socket) => socket.binary.map(offsetOf));
  assert.equal(offsets.filter((offset) => offset === 0).length, 1, "the first chunk went once");
  const resumedAt = offsetOf(WebSocket.sockets[1].binary[0]);
  assert.ok(resumedAt >= CHUNK, `resumed at ${resumedAt}`);
});

test("a refused type is an error at once", async (t) => {
  const agora = await signedIn(t, DAVE);
  await agora.connect();
  await assert.rejects(agora.upload(text(100), { contentType: "application/x-msdownload" }), {
    code: "unsupported_media_type",
  });
});

test("an upload waits for the connection, and fails when the client closes", async (t) => {
  const agora = await signedIn(t, DAVE);
  const pending = agora.upload(text(100), { contentType: "text/plain" });
  const connected = agora.connect();
  const upload = await pending;
  await connected;
  assert.equal(upload.size, text(100).byteLength);

  const proxy = await new Proxy().start();
  t.after(() => proxy.stop());
  const offline = await signedIn(t, DAVE, { baseUrl: proxy.url });
  proxy.refuse();
  offline.connect().catch(() => {});
  const failing = offline.upload(text(100), { contentType: "text/plain" });
  await waitFor(() => offline.state === "reconnecting", { what: "retries" });
  offline.close();
  await assert.rejects(failing, { code: "closed" });
});
