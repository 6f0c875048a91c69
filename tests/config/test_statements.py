"""config.core.statements: plain INSERT and UPDATE statements run together, all or none."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.core import statements
from config.core.statements import insert_statement, instances_saved, statements_run
from content.models import Comment, Post, Tag
from realtime.models import Notification
from tests.content.factories import PostFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_insert_writes_what_save_would_write() -> None:
    post = PostFactory()
    comment = Comment(post=post, author=post.author, body="Hallo")

    statements_run([insert_statement([comment])])
    instances_saved([comment])

    stored = Comment.objects.get(pk=comment.pk)
    assert (stored.post_id, stored.author_id, stored.body) == (post.pk, post.author_id, "Hallo")
    assert stored.created_at == comment.created_at is not None
    assert stored.updated_at == comment.updated_at
    assert not comment._state.adding


def test_json_values_round_trip() -> None:
    user = UserFactory()
    data = {"text": "Grüße 👋 'quoted' %s", "nested": [1, None, True]}
    notification = Notification(recipient_id=user.pk, kind="job_finished", data=data)

    statements_run([insert_statement([notification])])

    assert Notification.objects.get(pk=notification.pk).data == data


def test_the_statements_go_as_one_query_on_postgresql() -> None:
    with CaptureQueriesContext(connection) as captured:
        statements_run([insert_statement([Tag(name="eins")]), insert_statement([Tag(name="zwei")])])

    sent = [query["sql"] for query in captured.captured_queries]
    if connection.vendor == "postgresql":
        assert len(sent) == 1
    else:
        assert [sql for sql in sent if sql.startswith("INSERT")] == sent[1:3]
    assert set(Tag.objects.values_list("name", flat=True)) == {"eins", "zwei"}


@pytest.mark.parametrize("inside_atomic", [False, True])
def test_a_failing_statement_leaves_nothing_of_the_others(inside_atomic: bool) -> None:
    post = PostFactory()
    count_up = (
        "UPDATE content_post SET comment_count = comment_count + 1 WHERE id = %s",
        [Post._meta.pk.get_db_prep_value(post.pk, connection)],
    )
    tag = insert_statement([Tag(name="drei")])
    run = transaction.atomic()(statements_run) if inside_atomic else statements_run

    with pytest.raises(IntegrityError):
        run([tag, count_up, tag])

    post.refresh_from_db()
    assert post.comment_count == 0
    assert not Tag.objects.exists()


def test_with_server_side_binding_they_go_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg's server-side binding refuses several statements in one query."""
    monkeypatch.setattr(statements, "_server_side_binding", lambda: True)

    with CaptureQueriesContext(connection) as captured:
        statements_run([insert_statement([Tag(name="vier")]), insert_statement([Tag(name="fünf")])])

    assert len([query for query in captured.captured_queries if "INSERT" in query["sql"]]) == 2
    assert set(Tag.objects.values_list("name", flat=True)) == {"vier", "fünf"}
