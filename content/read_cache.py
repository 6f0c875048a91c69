"""Cache-aside for the hot public reads: a public post's detail and the first feed page.

Entries live 15 minutes and are keyed on version counters that the write services move on
after commit, so an entry computed from data older than a write is never read again. A cache
outage degrades to the database (config.core.cache_aside helpers), never to a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings

from accounts.profile_cache import profile_version_key
from config.core.cache_aside import (
    CACHE_ERRORS,
    LUA_VERSION_BUMP,
    CacheScript,
    cache_bumps_later,
    cache_get,
    cache_get_many,
    cache_set,
    cache_version,
    cache_version_bump,
    cached,
)

logger = logging.getLogger("agora.cache")

TTL_SECONDS = 15 * 60
# Per-post counters outlive the entries keyed on them (see cache_version_bump).
POST_VERSION_TTL_SECONDS = 24 * 60 * 60
FEED_VERSION_KEY = "content:feed:version"
# Per host: the page's `next` link is an absolute URL.
FEED_PAGE_KEY = "content:feed:first-page:{host}:v{version}"
# The ids on that page, small, so a comment write can tell whether the page shows its post
# without reading the page.
FEED_PAGE_IDS_KEY = "content:feed:first-page-ids:{host}:v{version}"
# Holds (feed version, count), so one round trip reads the version and the count together.
FEED_COUNT_KEY = "content:feed:count:{scope}"
# The scope of FEED_COUNT_KEY holding a member's live drafts: the part of their list that is
# theirs alone (config.http.public_cache serves them the public feed page when it is 0).
DRAFTS_SCOPE = "drafts:{user_id}"


def _post_version_key(post_id: UUID | str) -> str:
    return f"content:post:{post_id}:version"


def post_detail_cached(
    post_id: UUID, compute: Callable[[], Any]
) -> tuple[Any, bool, dict[str, int]]:
    """A public post's representation; `compute` returns None when it is not public.

    Also returns whether the cache had it, and the version counter it was read under (the
    validators of config.http.public_cache).
    """
    version_key = _post_version_key(post_id)
    version = cache_version(version_key)
    value, hit = cached(f"content:post:{post_id}:v{version}", compute, TTL_SECONDS)
    return value, hit, {version_key: version}


def feed_first_page_cached(
    host: str, compute: Callable[[], Any]
) -> tuple[Any, bool, dict[str, int]]:
    """The anonymous feed's first page (default filters, ordering and limit) on `host`; also
    whether the cache had it, and the version counter it was read under."""
    version = cache_version(FEED_VERSION_KEY)

    def compute_noting_ids() -> Any:
        page = compute()
        ids = [item["id"] for item in page["results"]]
        cache_set(FEED_PAGE_IDS_KEY.format(host=host, version=version), ids, TTL_SECONDS)
        return page

    key = FEED_PAGE_KEY.format(host=host, version=version)
    value, hit = cached(key, compute_noting_ids, TTL_SECONDS)
    return value, hit, {FEED_VERSION_KEY: version}


def feed_count_cached(scope: str, compute: Callable[[], int]) -> int:
    """The count of an unfiltered list (`scope`: public, or all live posts for admins).

    A count stored under an older feed version is recomputed, like any versioned entry.
    """
    key = FEED_COUNT_KEY.format(scope=scope)
    found = cache_get_many([FEED_VERSION_KEY, key])
    version = found.get(FEED_VERSION_KEY)
    version = version if isinstance(version, int) else 1
    stored = found.get(key)
    if isinstance(stored, tuple) and stored[0] == version:
        return stored[1]
    count = compute()
    cache_set(key, (version, count), TTL_SECONDS)
    return count


def author_validators(user_id: UUID | str) -> dict[str, int]:
    """The counter of the author fields (username, display name) of a member's own posts, at
    its current value: what an entry showing their drafts is valid under besides the feed's
    counter (the shared page is valid under the feed's alone). Read it before the drafts."""
    key = profile_version_key(user_id)
    return {key: cache_version(key)}


def drafts_count_key(user_id: UUID | str) -> str:
    """The cache key of a member's live-drafts count, (feed version, count)."""
    return FEED_COUNT_KEY.format(scope=DRAFTS_SCOPE.format(user_id=user_id))


def drafts_count_cached(user_id: UUID | str, compute: Callable[[], int]) -> int:
    """A member's live drafts, counted again after any post write (each moves the feed on)."""
    return feed_count_cached(DRAFTS_SCOPE.format(user_id=user_id), compute)


def post_invalidate(post_id: UUID) -> None:
    """After a write to a post: its detail, and every feed entry (page and counts)."""
    cache_version_bump(_post_version_key(post_id), timeout=POST_VERSION_TTL_SECONDS)
    cache_version_bump(FEED_VERSION_KEY)


# KEYS: the post's version counter, the feed's. ARGV: the feed page ids' key with `{version}`
# in it, the post counter's timeout, the post id. The ids are pickled strings: the id's text is
# in the bytes exactly when the page shows the post.
_POST_COMMENTS_CHANGED = (
    LUA_VERSION_BUMP
    + """
version_bump(KEYS[1], ARGV[2])
local version = tonumber(redis.call('GET', KEYS[2])) or 1
local at, to = string.find(ARGV[1], '{version}', 1, true)
local ids_key = string.sub(ARGV[1], 1, at - 1) .. version .. string.sub(ARGV[1], to + 1)
local shown = redis.call('GET', ids_key)
if (not shown) or string.find(shown, ARGV[3], 1, true) then version_bump(KEYS[2], 0) end
return version
"""
)
_post_comments_changed = CacheScript(_POST_COMMENTS_CHANGED)


def post_comments_changed(post_id: UUID) -> None:
    """After a comment write: the post's `comment_count` shows in its detail and the feed page.

    The feed moves on only when its cached first page on the site's host shows the post, so a
    stream of comments on older posts leaves the feed cached. On Redis all of it is one round
    trip (a script); elsewhere the same steps one by one.
    """
    ids_key = FEED_PAGE_IDS_KEY.format(host=site_host(), version="{version}")
    try:
        done = _post_comments_changed.run(
            [_post_version_key(post_id), FEED_VERSION_KEY],
            [ids_key, POST_VERSION_TTL_SECONDS, str(post_id)],
            key_args=1,
        )
    except CACHE_ERRORS as exc:
        # Made once the cache answers again; the feed moves on too (the page may show it).
        cache_bumps_later(
            {_post_version_key(post_id): POST_VERSION_TTL_SECONDS, FEED_VERSION_KEY: None}
        )
        logger.error("cache version bump failed for post %s: %r", post_id, exc)
        return
    if done is not None:
        return
    cache_version_bump(_post_version_key(post_id), timeout=POST_VERSION_TTL_SECONDS)
    version = cache_version(FEED_VERSION_KEY)
    shown = cache_get(FEED_PAGE_IDS_KEY.format(host=site_host(), version=version))
    if shown is None or str(post_id) in shown:
        cache_version_bump(FEED_VERSION_KEY)


def site_host() -> str:
    """The host of `SITE_URL`, where the feed is normally read."""
    return urlsplit(settings.SITE_URL).netloc
