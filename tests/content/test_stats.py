"""Publishing statistics: three aggregate queries over the live published posts of a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from content.models import PostStatus
from content.selectors.stats import DAYS_MAX, TOP_MAX, post_stats
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def days_ago(days: int, *, hour: int = 12) -> datetime:
    today = timezone.now().astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def day(days: int) -> str:
    return days_ago(days).date().isoformat()


def test_the_answer_has_the_contract_shape() -> None:
    author = UserFactory()
    post = PostFactory(author=author)
    CommentFactory(post=post)

    stats = post_stats(days=1)

    assert stats == {
        "posts_per_day": [{"date": day(0), "count": 1}],
        "top_authors": [{"id": str(author.pk), "username": author.username, "post_count": 1}],
        "comments": {"total": 1, "per_post_avg": 1.0},
    }


def test_every_day_of_the_window_is_listed_oldest_first_with_zeros() -> None:
    PostFactory(published_at=days_ago(2))
    PostFactory.create_batch(2, published_at=days_ago(0, hour=0))

    stats = post_stats(days=4)

    assert stats["posts_per_day"] == [
        {"date": day(3), "count": 0},
        {"date": day(2), "count": 1},
        {"date": day(1), "count": 0},
        {"date": day(0), "count": 2},
    ]


def test_days_are_utc_calendar_days_of_publication() -> None:
    PostFactory(published_at=days_ago(1, hour=23) + timedelta(minutes=59))
    PostFactory(published_at=days_ago(0, hour=0))

    per_day = post_stats(days=2)["posts_per_day"]

    assert per_day == [{"date": day(1), "count": 1}, {"date": day(0), "count": 1}]


def test_posts_before_the_window_are_left_out_of_every_part() -> None:
    old = PostFactory(published_at=days_ago(30))
    CommentFactory(post=old)

    stats = post_stats(days=30)

    assert sum(entry["count"] for entry in stats["posts_per_day"]) == 0
    assert stats["top_authors"] == []
    assert stats["comments"] == {"total": 0, "per_post_avg": 0.0}


def test_only_live_published_posts_count() -> None:
    counted = PostFactory()
    PostFactory(status=PostStatus.DRAFT, author=counted.author)
    PostFactory(status=PostStatus.ARCHIVED, author=counted.author)
    PostFactory(deleted=True, author=counted.author)

    stats = post_stats()

    assert stats["posts_per_day"][-1] == {"date": day(0), "count": 1}
    assert stats["top_authors"][0]["post_count"] == 1


def test_comments_count_live_ones_on_counted_posts_only() -> None:
    counted = PostFactory()
    reply_to = CommentFactory(post=counted)
    CommentFactory(parent=reply_to)
    CommentFactory(post=counted, deleted=True)
    for hidden in (
        PostFactory(status=PostStatus.DRAFT),
        PostFactory(status=PostStatus.ARCHIVED),
        PostFactory(deleted=True),
    ):
        CommentFactory(post=hidden)

    assert post_stats()["comments"] == {"total": 2, "per_post_avg": 2.0}


def test_the_average_is_rounded_to_two_decimals() -> None:
    first, _, _ = PostFactory.create_batch(3)
    CommentFactory(post=first)

    assert post_stats()["comments"] == {"total": 1, "per_post_avg": 0.33}


def test_top_authors_rank_by_posts_then_username() -> None:
    busy, zed, abe = (UserFactory(username=name) for name in ("busy", "zed", "abe"))
    PostFactory.create_batch(3, author=busy)
    PostFactory(author=zed)
    PostFactory(author=abe)

    top = post_stats(top=2)["top_authors"]

    assert top == [
        {"id": str(busy.pk), "username": "busy", "post_count": 3},
        {"id": str(abe.pk), "username": "abe", "post_count": 1},
    ]


def test_nothing_published_gives_zeros_not_errors() -> None:
    stats = post_stats(days=3)

    assert stats == {
        "posts_per_day": [{"date": day(offset), "count": 0} for offset in (2, 1, 0)],
        "top_authors": [],
        "comments": {"total": 0, "per_post_avg": 0.0},
    }


@pytest.mark.parametrize("posts", [1, 12])
def test_three_queries_whatever_the_data(posts: int, django_assert_num_queries: Any) -> None:
    for post in PostFactory.create_batch(posts):
        CommentFactory(post=post)

    with django_assert_num_queries(3):
        post_stats(days=DAYS_MAX, top=TOP_MAX)


@pytest.mark.parametrize(
    "arguments", [{"days": 0}, {"days": DAYS_MAX + 1}, {"top": 0}, {"top": TOP_MAX + 1}]
)
def test_out_of_bounds_arguments_are_refused(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be between"):
        post_stats(**arguments)
