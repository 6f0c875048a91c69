"""Publishing statistics for `GET posts/stats`: three aggregate queries, any database.

Scope: live posts whose status is `published` (not drafts, not archived, not soft-deleted)
and whose `published_at` falls in the window of the last `days` UTC calendar days, today
included. The window applies to all three parts, so they describe the same set of posts:

- `posts_per_day`: one entry for every day of the window, oldest first, days without posts
  included with count 0 (a chart needs no gap filling);
- `top_authors`: the authors of most of those posts, ties broken by username;
- `comments`: live comments (replies included) on those posts, and their mean per post.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from content.models import Comment, Post, PostStatus

DAYS_DEFAULT = 30
DAYS_MAX = 365
TOP_DEFAULT = 10
TOP_MAX = 50


class DayCount(TypedDict):
    date: str
    count: int


class AuthorCount(TypedDict):
    id: str
    username: str
    post_count: int


class CommentTotals(TypedDict):
    total: int
    per_post_avg: float


class PostStats(TypedDict):
    posts_per_day: list[DayCount]
    top_authors: list[AuthorCount]
    comments: CommentTotals


def post_stats(*, days: int = DAYS_DEFAULT, top: int = TOP_DEFAULT) -> PostStats:
    """Stats of the last `days` days (1 to 365), with the `top` authors (1 to 50)."""
    if not 1 <= days <= DAYS_MAX:
        raise ValueError(f"days must be between 1 and {DAYS_MAX}")
    if not 1 <= top <= TOP_MAX:
        raise ValueError(f"top must be between 1 and {TOP_MAX}")
    today = timezone.now().astimezone(UTC).date()
    first_day = today - timedelta(days=days - 1)
    published = _published_between(first_day, today)

    per_day = dict(
        published.annotate(day=TruncDate("published_at", tzinfo=UTC))
        .order_by()
        .values("day")
        .annotate(count=Count("id"))
        .values_list("day", "count")
    )
    posts_per_day: list[DayCount] = [
        {"date": day.isoformat(), "count": per_day.get(day, 0)}
        for day in (first_day + timedelta(days=offset) for offset in range(days))
    ]

    top_authors: list[AuthorCount] = [
        {"id": str(row["author_id"]), "username": row["author__username"], "post_count": row["n"]}
        for row in published.order_by()
        .values("author_id", "author__username")
        .annotate(n=Count("id"))
        .order_by("-n", "author__username", "author_id")[:top]
    ]

    total = Comment.objects.filter(deleted_at__isnull=True, post__in=published).count()
    post_total = sum(entry["count"] for entry in posts_per_day)
    return {
        "posts_per_day": posts_per_day,
        "top_authors": top_authors,
        "comments": {
            "total": total,
            "per_post_avg": round(total / post_total, 2) if post_total else 0.0,
        },
    }


def _published_between(first_day: date, last_day: date) -> QuerySet[Post]:
    start = datetime.combine(first_day, time.min, tzinfo=UTC)
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC)
    return Post.objects.filter(
        status=PostStatus.PUBLISHED,
        deleted_at__isnull=True,
        published_at__gte=start,
        published_at__lt=end,
    )
