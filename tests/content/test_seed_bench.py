"""`manage.py seed_bench` at a tiny scale: counts, consistency, and its guard rails."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Q

from content.management.commands.seed_bench import BENCH_PASSWORD, bench_username
from content.models import Comment, Post, PostStatus, Tag
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
SCALE = {"users": 40, "posts": 300, "comments": 2000}


def _seed(**options: object) -> str:
    out = StringIO()
    call_command("seed_bench", stdout=out, **{**SCALE, **options})
    return out.getvalue()


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        tables = ["content_post", "content_comment", "content_post_tags"]
        descriptions = connection.introspection.get_constraints
        return {name for table in tables for name in descriptions(cursor, table)}


def test_it_loads_the_requested_numbers_of_rows() -> None:
    _seed()

    assert (User.objects.count(), Post.objects.count(), Comment.objects.count()) == (40, 300, 2000)


def test_comment_count_of_every_post_is_its_number_of_live_comments() -> None:
    _seed()

    posts = Post.objects.annotate(live=Count("comments", filter=Q(comments__deleted_at=None)))

    assert not posts.exclude(comment_count=F("live")).exists()


def test_only_drafts_lack_published_at() -> None:
    _seed()

    statuses = set(Post.objects.values_list("status", flat=True))
    undated = set(Post.objects.filter(published_at=None).values_list("status", flat=True))

    assert statuses == {PostStatus.PUBLISHED, PostStatus.DRAFT, PostStatus.ARCHIVED}
    assert undated == {PostStatus.DRAFT}


def test_drafts_get_no_comments() -> None:
    _seed()

    assert not Comment.objects.filter(post__status=PostStatus.DRAFT).exists()


def test_replies_answer_a_comment_of_the_same_post() -> None:
    _seed()

    replies = Comment.objects.exclude(parent=None)

    assert replies.exists()
    assert not replies.exclude(parent__post=F("post")).exists()


def test_posts_carry_up_to_five_tags_from_the_pool() -> None:
    _seed()

    most = Post.objects.annotate(n=Count("tags")).order_by("-n").values_list("n", flat=True)[0]

    assert Tag.objects.count() == 50
    assert 1 <= most <= 5


def test_bench_users_log_in_with_the_bench_password() -> None:
    _seed()

    user = User.objects.get(username=bench_username(0))

    assert user.check_password(BENCH_PASSWORD)
    assert user.email_verified


def test_a_second_run_leaves_seeded_data_alone() -> None:
    _seed()
    first_post = Post.objects.order_by("id").values_list("id", flat=True)[0]

    output = _seed(posts=10)

    assert "nothing done" in output
    assert Post.objects.order_by("id").values_list("id", flat=True)[0] == first_post


def test_reset_loads_the_data_again() -> None:
    _seed()

    _seed(reset=True, posts=50, comments=100)

    assert (Post.objects.count(), Comment.objects.count()) == (50, 100)


def test_it_refuses_a_database_with_users_it_did_not_make() -> None:
    UserFactory()

    with pytest.raises(CommandError, match="dedicated bench database"):
        _seed(reset=True)


@pytest.mark.postgres
def test_keys_and_indexes_are_back_after_a_postgresql_load() -> None:
    before = _index_names()

    _seed()

    assert _index_names() == before


@pytest.mark.postgres
def test_search_vectors_are_filled_on_postgresql() -> None:
    _seed()

    assert not Post.objects.filter(search_vector=None).exists()


@pytest.mark.postgres
def test_the_update_variant_fills_search_vectors_too() -> None:
    _seed(search_vectors="update")

    assert not Post.objects.filter(search_vector=None).exists()


def _tag_names_by_post() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, tag_names FROM content_post")
        return {str(post_id): sorted(names or []) for post_id, names in cursor.fetchall()}


@pytest.mark.postgres
@pytest.mark.parametrize("search_vectors", ["trigger", "update"])
def test_every_post_carries_its_tag_names_after_a_postgresql_load(search_vectors: str) -> None:
    _seed(search_vectors=search_vectors)

    expected: dict[str, list[str]] = {str(post.pk): [] for post in Post.objects.only("id")}
    for post_id, tag in Post.tags.through.objects.values_list("post_id", "tag_id"):
        expected[str(post_id)].append(tag)
    assert _tag_names_by_post() == {key: sorted(names) for key, names in expected.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'content_post_tag_names_insert'"
        )
        assert cursor.fetchone() == ("O",)
