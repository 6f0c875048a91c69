"""The content admin: lists with search and filters, and every write through the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from audits.models import AuditRecord
from content.models import Comment, Post, PostStatus
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

POSTS_URL = reverse("admin:content_post_changelist")
COMMENTS_URL = reverse("admin:content_comment_changelist")


@pytest.fixture
def admin_browser(admin: Any) -> Client:
    """An admin's browser session (the admin site uses sessions, not bearer tokens)."""
    client = Client()
    client.force_login(admin)
    return client


def audit_actions(target: Any) -> list[str]:
    return list(
        AuditRecord.objects.filter(target_id=str(target.pk))
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def page_messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def post_form(**overrides: str) -> dict[str, str]:
    return {"title": "Grüße aus Köln", "body": "", "status": "draft", "tag_names": ""} | overrides


def test_the_post_list_shows_deleted_posts_too(admin_browser: Client) -> None:
    live, deleted = PostFactory(title="live one"), PostFactory(title="gone one", deleted=True)

    response = admin_browser.get(POSTS_URL)

    assert response.status_code == 200
    assert {live, deleted} == set(response.context["cl"].result_list)


@pytest.mark.parametrize(("deleted", "expected"), [("yes", "gone one"), ("no", "live one")])
def test_the_post_list_filters_on_deletion(
    admin_browser: Client, deleted: str, expected: str
) -> None:
    PostFactory(title="live one")
    PostFactory(title="gone one", deleted=True)

    response = admin_browser.get(POSTS_URL, {"deleted": deleted})

    assert [post.title for post in response.context["cl"].result_list] == [expected]


def test_the_post_list_filters_on_status(admin_browser: Client) -> None:
    PostFactory(status=PostStatus.DRAFT, title="a draft")
    PostFactory(status=PostStatus.PUBLISHED)

    response = admin_browser.get(POSTS_URL, {"status__exact": "draft"})

    assert [post.title for post in response.context["cl"].result_list] == ["a draft"]


@pytest.mark.parametrize("term", ["Seilbahn", "tramway", "o'brien_admin"])
def test_the_post_list_searches_title_body_and_author(admin_browser: Client, term: str) -> None:
    PostFactory(title="Über die Seilbahn")
    PostFactory(body="Notes on the tramway")
    PostFactory(author=UserFactory(username="o'brien_admin"))
    PostFactory(title="unrelated", body="nothing")

    response = admin_browser.get(POSTS_URL, {"q": term})

    assert len(response.context["cl"].result_list) == 1


@pytest.mark.parametrize("rows", [2, 20])
def test_the_post_list_query_count_does_not_grow_with_rows(
    admin_browser: Client, rows: int, django_assert_num_queries: Any
) -> None:
    PostFactory.create_batch(rows, tags=["köln", "travel"])

    # session, user, count of the filtered rows, the page with authors, the page's tags
    with django_assert_num_queries(5):
        response = admin_browser.get(
            POSTS_URL, {"q": "#", "deleted": "no", "status__exact": "published"}
        )

    assert len(response.context["cl"].result_list) == rows


@pytest.mark.parametrize("rows", [2, 20])
def test_the_comment_list_query_count_does_not_grow_with_rows(
    admin_browser: Client, rows: int, django_assert_num_queries: Any
) -> None:
    CommentFactory.create_batch(rows)

    # session, user, count of the filtered rows, the page with posts and authors
    with django_assert_num_queries(4):
        response = admin_browser.get(COMMENTS_URL, {"q": "e", "deleted": "no"})

    assert response.status_code == 200


def test_soft_delete_action_deletes_through_the_service(admin_browser: Client) -> None:
    post, other = PostFactory(), PostFactory()

    response = admin_browser.post(
        POSTS_URL, {"action": "soft_delete", "_selected_action": [str(post.pk)]}, follow=True
    )

    post.refresh_from_db()
    other.refresh_from_db()
    assert post.deleted_at is not None
    assert post.deleted_by == response.wsgi_request.user
    assert other.deleted_at is None
    assert audit_actions(post) == ["post.deleted"]
    assert "Soft-deleted 1 item(s)." in page_messages(response)


def test_restore_action_restores_through_the_service(admin_browser: Client) -> None:
    post = PostFactory(deleted=True)

    admin_browser.post(POSTS_URL, {"action": "restore", "_selected_action": [str(post.pk)]})

    post.refresh_from_db()
    assert post.deleted_at is None
    assert audit_actions(post) == ["post.restored"]


def test_soft_delete_skips_posts_already_deleted(admin_browser: Client) -> None:
    post = PostFactory(deleted=True)

    admin_browser.post(POSTS_URL, {"action": "soft_delete", "_selected_action": [str(post.pk)]})

    assert audit_actions(post) == []


def test_hard_deletion_is_not_offered(admin_browser: Client) -> None:
    post = PostFactory()

    admin_browser.post(POSTS_URL, {"action": "delete_selected", "_selected_action": [str(post.pk)]})
    delete_page = admin_browser.get(reverse("admin:content_post_delete", args=[post.pk]))
    changelist = admin_browser.get(POSTS_URL)

    actions = [value for value, _ in changelist.context["action_form"].fields["action"].choices]
    assert Post.objects.filter(pk=post.pk).exists()
    assert delete_page.status_code == 403
    assert actions == ["", "soft_delete", "restore"]


def test_the_add_page_loads(admin_browser: Client) -> None:
    response = admin_browser.get(reverse("admin:content_post_add"))

    assert response.status_code == 200
    assert "tag_names" in response.context["adminform"].form.fields


def test_adding_a_post_creates_it_through_the_service(admin_browser: Client) -> None:
    response = admin_browser.post(
        reverse("admin:content_post_add"),
        post_form(status="published", tag_names="Köln, travel"),
        follow=True,
    )

    post = Post.objects.get()
    assert response.redirect_chain[0][0] == POSTS_URL
    assert post.author == response.wsgi_request.user
    assert post.published_at is not None
    assert sorted(tag.name for tag in post.tags.all()) == ["köln", "travel"]
    assert audit_actions(post) == ["post.created"]


def test_changing_a_post_updates_it_through_the_service(admin_browser: Client) -> None:
    post = PostFactory(status=PostStatus.DRAFT, title="Before", tags=["old"])

    admin_browser.post(
        reverse("admin:content_post_change", args=[post.pk]),
        post_form(title="After — O'Brien", status="published", tag_names="new, old"),
    )

    post.refresh_from_db()
    record = AuditRecord.objects.get(target_id=str(post.pk))
    assert (post.title, post.status) == ("After — O'Brien", "published")
    assert post.published_at is not None
    assert sorted(tag.name for tag in post.tags.all()) == ["new", "old"]
    assert record.action == "post.updated"
    assert record.changes["title"] == ["Before", "After — O'Brien"]


def test_the_change_form_shows_the_current_tags(admin_browser: Client) -> None:
    post = PostFactory(tags=["zebra", "apfel"])

    response = admin_browser.get(reverse("admin:content_post_change", args=[post.pk]))

    assert response.context["adminform"].form.initial["tag_names"] == "apfel, zebra"


def test_a_refused_save_shows_a_message_and_writes_nothing(admin_browser: Client) -> None:
    response = admin_browser.post(
        reverse("admin:content_post_add"), post_form(tag_names="no/slashes"), follow=True
    )

    assert response.status_code == 200
    assert not Post.objects.exists()
    assert any("tags:" in message for message in page_messages(response))
    assert not AuditRecord.objects.filter(action="post.created").exists()
    assert not LogEntry.objects.exists()


def test_an_invalid_form_is_shown_again_with_its_errors(admin_browser: Client) -> None:
    response = admin_browser.post(reverse("admin:content_post_add"), post_form(title="bad\x00"))

    assert response.status_code == 200
    assert "title" in response.context["adminform"].form.errors
    assert not Post.objects.exists()


def test_the_comment_list_shows_deleted_comments_and_filters_them(admin_browser: Client) -> None:
    live, deleted = CommentFactory(), CommentFactory(deleted=True)

    everything = admin_browser.get(COMMENTS_URL)
    only_deleted = admin_browser.get(COMMENTS_URL, {"deleted": "yes"})

    assert set(everything.context["cl"].result_list) == {live, deleted}
    assert list(only_deleted.context["cl"].result_list) == [deleted]


def test_comment_actions_delete_and_restore_through_the_services(admin_browser: Client) -> None:
    comment = CommentFactory()

    admin_browser.post(
        COMMENTS_URL, {"action": "soft_delete", "_selected_action": [str(comment.pk)]}
    )
    comment.refresh_from_db()
    deleted_count = Post.objects.get(pk=comment.post_id).comment_count
    admin_browser.post(COMMENTS_URL, {"action": "restore", "_selected_action": [str(comment.pk)]})

    comment.refresh_from_db()
    assert deleted_count == 0
    assert comment.deleted_at is None
    assert Post.objects.get(pk=comment.post_id).comment_count == 1
    assert audit_actions(comment) == ["comment.deleted", "comment.restored"]


def test_changing_a_comment_updates_it_through_the_service(admin_browser: Client) -> None:
    comment = CommentFactory(body="Vorher")

    admin_browser.post(
        reverse("admin:content_comment_change", args=[comment.pk]), {"body": "Nachher 🚀"}
    )

    comment.refresh_from_db()
    assert comment.body == "Nachher 🚀"
    assert audit_actions(comment) == ["comment.updated"]


def test_comments_are_not_added_in_the_admin(admin_browser: Client) -> None:
    response = admin_browser.get(reverse("admin:content_comment_add"))

    assert response.status_code == 403


def test_a_comment_change_page_loads(admin_browser: Client) -> None:
    reply = CommentFactory(parent=CommentFactory())

    response = admin_browser.get(reverse("admin:content_comment_change", args=[reply.pk]))

    assert response.status_code == 200
    assert Comment.objects.count() == 2
