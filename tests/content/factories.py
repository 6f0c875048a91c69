"""Content factories: posts and comments with deliberately international text.

`PostFactory` makes a published post by default (`published_at` now); drafts get no
`published_at`, as the model's constraint demands. `CommentFactory` keeps the post's
denormalised `comment_count` in step as the comment services do (in the database, and re-read
on the post instance it was given): a live comment counts one, a soft-deleted one
(`deleted=True`) counts nothing. Rows are written directly, not through services, so no audit
records or broadcasts come with them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import factory
from django.db.models import F
from django.utils import timezone

from content.models import Comment, Post, PostStatus, Tag
from tests.factories import UserFactory

TITLES = (
    "Café O'Brien — 李雷's notes 🚀",
    "Jürgen Müller über Straßenbahnen",
    "Ελληνικά και ASCII: mixed résumé",
    "Zoë's «quoted» title ✨ with emoji",
    "Ångström & naïve façade",
)
BODIES = (
    "Première ligne.\nSecond line with 李雷 and an emoji 🎉.",
    "Grüße aus Köln — \"quotes\", 'apostrophes' and <angle brackets>.",
    "Plain ASCII body.",
)
COMMENTS = (
    "Merci, très intéressant ! 👍",
    "同意，写得很好。",  # noqa: RUF001 - Chinese punctuation, on purpose
    "O'Brien here — fair point.",
    "Schöne Grüße 🇩🇪",
)


class PostFactory(factory.django.DjangoModelFactory):
    """`PostFactory(tags=["python", "Django"])` creates (lower-cased) tags and attaches them."""

    class Meta:
        model = Post
        skip_postgeneration_save = True

    class Params:
        deleted = factory.Trait(deleted_at=factory.LazyFunction(timezone.now))

    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"{TITLES[n % len(TITLES)]} #{n}")
    body = factory.Iterator(BODIES)
    status = PostStatus.PUBLISHED
    published_at = factory.LazyAttribute(
        lambda post: None if post.status == PostStatus.DRAFT else timezone.now()
    )

    @factory.post_generation
    def tags(self, create: bool, extracted: Sequence[str] | None, **kwargs: Any) -> None:
        if not create or not extracted:
            return
        names = list(dict.fromkeys(name.strip().lower() for name in extracted))
        Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
        self.tags.add(*names)


class CommentFactory(factory.django.DjangoModelFactory):
    """A comment; with `parent=` it is a reply on the parent's post."""

    class Meta:
        model = Comment

    class Params:
        deleted = factory.Trait(deleted_at=factory.LazyFunction(timezone.now))

    parent = None
    post = factory.Maybe(
        "parent",
        yes_declaration=factory.SelfAttribute("parent.post"),
        no_declaration=factory.SubFactory(PostFactory),
    )
    author = factory.SubFactory(UserFactory)
    body = factory.Iterator(COMMENTS)

    @classmethod
    def _create(cls, model_class: type[Comment], *args: Any, **kwargs: Any) -> Comment:
        comment = super()._create(model_class, *args, **kwargs)
        if comment.deleted_at is None:
            Post.objects.filter(pk=comment.post_id).update(comment_count=F("comment_count") + 1)
            comment.post.refresh_from_db(fields=["comment_count"])
        return comment


def feed_with_drafts(member: Any, *, newer_drafts: int) -> None:
    """22 public posts a minute apart, the member's drafts (`newer_drafts` among the newest
    posts, three older than the first page), someone else's newest draft."""
    start = timezone.now() - dt.timedelta(days=1)

    def at(post: Post, minutes: float) -> None:
        Post.objects.filter(pk=post.pk).update(created_at=start + dt.timedelta(minutes=minutes))

    for minute in range(22):
        at(PostFactory(tags=["feed"]), minute)
    for index in range(newer_drafts):
        at(PostFactory(author=member, status=PostStatus.DRAFT, tags=["mine"]), 10.5 + index)
    for minute in range(3):
        at(PostFactory(author=member, status=PostStatus.DRAFT), minute - 5)
    at(PostFactory(status=PostStatus.DRAFT), 30)
