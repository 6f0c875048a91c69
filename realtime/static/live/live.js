// The live page (/live/): sign in, the feed of published posts, and one post's room with its
// comments, who is online and who is typing. Built on the JavaScript SDK (clients/js), whose
// URL the template gives in data-sdk (hashed in production, so no static import here).
const script = document.getElementById("live-script");
const { AgoraClient } = await import(script.dataset.sdk);

const $ = (id) => document.getElementById(id);
const agora = new AgoraClient({ baseUrl: window.location.origin });
const FEED_SIZE = 20;
const COMMENTS_PAGE = 50;

let me = null;
let openRoom = null;
let openPostId = null;
const feedIds = new Set();
const commentIds = new Set();

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Signed out",
  stopped: "Disconnected: please sign in again",
};

agora.onStatus((status) => {
  $("connection").textContent = CONNECTION_TEXT[status] || status;
  if (status === "stopped") {
    closePost();
    showSignIn("Your session ended; please sign in again.");
  }
});

agora.onGap((room) => {
  if (room === "feed") loadFeed();
  else if (room === openRoom) loadComments(openPostId);
});

agora.on("post.published", (post) => addToFeed(post, { prepend: true }));

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

// -- signing in and out -----------------------------------------------------------------------

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  const button = event.submitter;
  if (button) button.disabled = true;
  try {
    await agora.login($("username").value.trim(), $("password").value);
    $("password").value = "";
    await start();
  } catch (error) {
    $("sign-in-error").textContent =
      error.code === "invalid_credentials" ? "Wrong username, email or password." : error.message;
  } finally {
    if (button) button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await agora.logout();
  } finally {
    showSignIn("");
  }
});

function showSignIn(message) {
  me = null;
  openRoom = openPostId = null;
  $("account").hidden = true;
  $("feed-section").hidden = true;
  $("post-section").hidden = true;
  $("sign-in-section").hidden = false;
  $("sign-in-error").textContent = message;
}

async function start() {
  me = await agora.get("/api/v1/users/me");
  $("whoami").textContent = me.username;
  $("account").hidden = false;
  $("sign-in-section").hidden = true;
  $("feed-section").hidden = false;
  await agora.connect();
  // Subscribed before the first load: a post published in between shows up once either way.
  await agora.subscribe("feed");
  await loadFeed();
}

// -- the feed ---------------------------------------------------------------------------------

async function loadFeed() {
  const page = await agora.get("/api/v1/posts/", {
    status: "published",
    ordering: "-published_at",
    limit: FEED_SIZE,
  });
  $("feed").replaceChildren();
  feedIds.clear();
  for (const post of page.results) addToFeed(post, { prepend: false });
  $("feed-empty").hidden = feedIds.size > 0;
}

function addToFeed(post, { prepend }) {
  if (feedIds.has(post.id)) return;
  feedIds.add(post.id);
  const item = element("li");
  item.dataset.postId = post.id;
  const open = element("button", post.title);
  open.type = "button";
  open.addEventListener("click", () => openPost(post.id));
  const meta = element("span", ` by ${post.author.username}, ${when(post.published_at)}`, "meta");
  item.append(open, meta);
  if (prepend) $("feed").prepend(item);
  else $("feed").append(item);
  $("feed-empty").hidden = true;
}

// -- one post's room --------------------------------------------------------------------------

async function openPost(postId) {
  await closePost();
  openPostId = postId;
  openRoom = `post:${postId}`;
  const room = openRoom;
  $("comments").replaceChildren();
  $("presence").replaceChildren();
  $("typing").textContent = "";
  $("comment-error").textContent = "";
  $("feed-section").hidden = true;
  $("post-section").hidden = false;

  $("post-title").textContent = "";
  $("post-meta").textContent = "Loading…";
  $("post-body").textContent = "";

  try {
    agora.onPresence(room, renderPresence);
    agora.onTyping(room, renderTyping);
    await agora.subscribe(room, onRoomEvent);
    const post = await agora.get(`/api/v1/posts/${postId}/`);
    if (room !== openRoom) return;
    $("post-title").textContent = post.title;
    $("post-meta").textContent = `by ${post.author.username}, ${when(post.published_at)}`;
    $("post-body").textContent = post.body;
    await loadComments(postId);
    $("comment-body").focus();
  } catch (error) {
    if (room === openRoom)
      $("post-meta").textContent = `Could not open this post: ${error.message}`;
  }
}

async function closePost() {
  if (openRoom) await agora.unsubscribe(openRoom).catch(() => {});
  openRoom = openPostId = null;
}

$("back-to-feed").addEventListener("click", async () => {
  await closePost();
  $("post-section").hidden = true;
  $("feed-section").hidden = false;
});

async function loadComments(postId) {
  const page = await agora.get(`/api/v1/posts/${postId}/comments/`, { limit: COMMENTS_PAGE });
  if (postId !== openPostId) return;
  $("comments").replaceChildren();
  commentIds.clear();
  for (const comment of page.results) showComment(comment);
}

function onRoomEvent(frame) {
  if (frame.event === "comment.created" || frame.event === "comment.updated") {
    showComment(frame.data);
  } else if (frame.event === "comment.deleted") {
    document.querySelector(`#comments [data-comment-id="${CSS.escape(frame.data.id)}"]`)?.remove();
    commentIds.delete(frame.data.id);
  }
}

function showComment(comment) {
  const item = element("li");
  item.dataset.commentId = comment.id;
  item.append(
    element("span", comment.author.username, "author"),
    element("span", ` · ${when(comment.created_at)}`, "meta"),
    element("div", comment.body, "comment-body"),
  );
  const existing = commentIds.has(comment.id)
    ? document.querySelector(`#comments [data-comment-id="${CSS.escape(comment.id)}"]`)
    : null;
  commentIds.add(comment.id);
  if (existing) existing.replaceWith(item);
  else $("comments").append(item);
}

function renderPresence(online) {
  $("presence").replaceChildren(
    ...online
      .map((user) => user.username)
      .sort()
      .map((name) => element("li", name === me?.username ? `${name} (you)` : name)),
  );
}

function renderTyping(users) {
  const names = users.map((user) => user.username);
  if (names.length === 0) $("typing").textContent = "";
  else if (names.length === 1) $("typing").textContent = `${names[0]} is typing…`;
  else $("typing").textContent = `${names.join(", ")} are typing…`;
}

$("comment-body").addEventListener("input", () => {
  if (openRoom) agora.typing(openRoom);
});

$("comment-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = $("comment-body").value;
  if (!body.trim() || !openPostId) return;
  $("comment-error").textContent = "";
  try {
    const comment = await agora.post(`/api/v1/posts/${openPostId}/comments/`, { body });
    $("comment-body").value = "";
    showComment(comment);
  } catch (error) {
    const details = error.details ? Object.values(error.details).flat().join(" ") : "";
    $("comment-error").textContent = details || error.message;
  }
});
