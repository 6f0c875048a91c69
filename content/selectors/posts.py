"""Reads of posts, scoped to what the caller may see: a wrong id is a 404, never data."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import BooleanField, CharField, Expression, F, Prefetch, Q, QuerySet

from accounts.models import User, is_admin
from content.models import LIVE, PUBLIC_STATUSES, TAG_MAX_LENGTH, Post, PostStatus
from content.read_cache import drafts_count_cached, feed_count_cached, post_detail_cached
from content.representations import post_representation
from content.selectors.uploads import attachments_attach
from content.selectors.visibility import parse_uuid, post_visibility

SEARCH_CONFIG = "english"
SEARCH_TERMS_MAX = 10
# What a list or detail reads: the author's public fields, never the whole user row.
LIST_FIELDS = (
    "id",
    "title",
    "body",
    "status",
    "comment_count",
    "created_at",
    "updated_at",
    "published_at",
    "deleted_at",
    "author__id",
    "author__username",
    "author__display_name",
)


AUTHOR_FIELDS = ("id", "username", "display_name")


def post_list(*, actor: Any) -> QuerySet[Post]:
    """Live posts the actor may read, with their authors; `post_relations_attach` adds the tags
    and attachments of a page in two more queries."""
    return (
        Post.objects.filter(LIVE, post_visibility(actor))
        .select_related("author")
        .only(*LIST_FIELDS)
    )


def search_page_shaped(posts: QuerySet[Post]) -> QuerySet[Post]:
    """`posts` shaped for a ranked search page on PostgreSQL: the authors in a second query
    (`id IN` the page's) instead of a join, the tag names from the post rows.

    Joined, PostgreSQL hashes the whole user table for the few hundred matches (measured at
    10k users: 6-9 ms against 2 ms for the page alone, and a fraction of a millisecond for
    the 20 authors); the row's tag names save the join table's query.
    """
    fields = [name for name in LIST_FIELDS if not name.startswith("author__")]
    authors = User.objects.only(*AUTHOR_FIELDS)
    return (
        posts.select_related(None)
        .only(*fields, "author_id")
        .annotate(row_tag_names=RowTagNames())
        .prefetch_related(Prefetch("author", queryset=authors))
    )


def post_relations_attach(posts: Sequence[Post]) -> Sequence[Post]:
    """Tags and attachments of a page of posts: two queries whatever its size."""
    return attachments_attach(tag_names_attach(posts))


def tag_names_attach(posts: Sequence[Post]) -> Sequence[Post]:
    """Give each post `tag_names` (sorted) from one query on the join table.

    Tag names are the join table's keys, so no Tag rows are built; measured, this costs a
    fraction of `prefetch_related("tags")` on a list page. Posts read with their row's names
    (`row_tag_names`, see `search_page_shaped`) need no query at all.
    """
    if posts and all(hasattr(post, "row_tag_names") for post in posts):
        for post in posts:
            post.tag_names = sorted(post.row_tag_names or [])
        return posts
    names: dict[Any, list[str]] = {post.pk: [] for post in posts}
    links = Post.tags.through.objects.filter(post_id__in=list(names))
    for post_id, name in links.values_list("post_id", "tag_id"):
        names[post_id].append(name)
    for post in posts:
        post.tag_names = sorted(names[post.pk])
    return posts


def post_get(*, actor: Any, post_id: uuid.UUID | str, include_deleted: bool = False) -> Post | None:
    """A post the actor may read. Deleted posts only with `include_deleted`, and then only for
    their author and admins, who may restore them."""
    post_id = parse_uuid(post_id)
    if post_id is None:
        return None
    posts = Post.objects.select_related("author").only(*LIST_FIELDS)
    posts = posts.filter(post_visibility(actor))
    if include_deleted:
        if not is_admin(actor):
            owned = Q(author_id=actor.pk) if actor.is_authenticated else Q(pk__in=[])
            posts = posts.filter(LIVE | owned)
    else:
        posts = posts.filter(LIVE)
    post = posts.filter(pk=post_id).first()
    return post_relations_attach([post])[0] if post is not None else None


def post_for_comments(*, actor: Any, post_id: uuid.UUID | str) -> Post | None:
    """A live post the actor may read, with just what commenting on it needs."""
    post_id = parse_uuid(post_id)
    if post_id is None:
        return None
    posts = Post.objects.filter(LIVE, post_visibility(actor), pk=post_id)
    # The title goes into the notifications a comment causes (content.services.comments).
    return posts.only("id", "status", "author_id", "title").first()


def public_post_get(*, post_id: uuid.UUID | str) -> Post | None:
    """A published or archived live post: the same for every caller, so it can be cached."""
    post_id = parse_uuid(post_id)
    if post_id is None:
        return None
    post = post_list(actor=None).filter(pk=post_id).first()
    return post_relations_attach([post])[0] if post is not None else None


def public_post_detail(*, post_id: uuid.UUID) -> tuple[dict[str, Any] | None, bool, dict[str, int]]:
    """A published or archived post's representation, the same for every caller, through the
    cache; None when there is no such post. Then: whether the cache had it, and the version
    counter it was read under."""

    def compute() -> dict[str, Any] | None:
        post = public_post_get(post_id=post_id)
        return post_representation(post) if post is not None else None

    return post_detail_cached(post_id, compute)


def post_search(posts: QuerySet[Post], text: str) -> QuerySet[Post]:
    """Full-text search over title and body: ranked (`search_rank`) on PostgreSQL through the
    GIN-indexed `search_vector`; every word in the title or body elsewhere."""
    if connection.vendor == "postgresql":
        query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        return posts.filter(search_vector=query).annotate(
            search_rank=SearchRank(F("search_vector"), query)
        )
    for term in text.split()[:SEARCH_TERMS_MAX]:
        posts = posts.filter(Q(title__icontains=term) | Q(body__icontains=term))
    return posts


class _PostRowTagNames(Expression):
    """The post row's `tag_names` (PostgreSQL; content migration 0006).

    The column is no model field (Django never writes it), so this names it on the query's
    own alias of the post table, relabelled like a column when the query becomes a subquery.
    """

    def __init__(self, alias: str | None = None) -> None:
        super().__init__()
        self.alias = alias

    def resolve_expression(self, query: Any = None, *args: Any, **kwargs: Any) -> Any:
        resolved = self.copy()
        resolved.alias = query.get_initial_alias()
        return resolved

    def relabeled_clone(self, change_map: dict[str, str]) -> Any:
        clone = self.copy()
        clone.alias = change_map.get(self.alias, self.alias)
        return clone

    def get_refs(self) -> set[str]:
        return set()

    def column_sql(self, compiler: Any) -> str:
        return f"{compiler.quote_name_unless_alias(self.alias)}.tag_names"


class TagNamesContain(_PostRowTagNames):
    """`tag_names @> ARRAY[tag]`: narrowed by the (search_vector, tag_names) GIN index."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, tag: str, alias: str | None = None) -> None:
        super().__init__(alias)
        self.tag = tag

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return f"{self.column_sql(compiler)} @> ARRAY[%s]::varchar(50)[]", [self.tag]


class RowTagNames(_PostRowTagNames):
    """The tag names themselves, so a page needs no query on the join table."""

    output_field = ArrayField(CharField(max_length=TAG_MAX_LENGTH))

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        return self.column_sql(compiler), []


def posts_tagged(posts: QuerySet[Post], tag: str) -> QuerySet[Post]:
    """Posts with the tag (a normalised, lower-case name).

    On PostgreSQL through the post's own `tag_names`, which the (search_vector, tag_names) GIN
    index narrows together with a search; elsewhere a semi-join on the join table's (tag, post)
    index, so no row is repeated either way.
    """
    if connection.vendor == "postgresql":
        return posts.filter(TagNamesContain(tag))
    tagged = Post.tags.through.objects.filter(tag_id=tag)
    return posts.filter(pk__in=tagged.values("post_id"))


def search_is_ranked() -> bool:
    return connection.vendor == "postgresql"


def post_count_unfiltered(*, actor: Any) -> int:
    """The count of an unfiltered list without counting the whole table per request.

    The shared parts (public posts; every live post for admins) are cached until the next post
    write; a member's own drafts are counted on an index.
    """
    if is_admin(actor):
        return feed_count_cached("all", Post.objects.filter(LIVE).count)
    public = feed_count_cached(
        "public", Post.objects.filter(LIVE, status__in=PUBLIC_STATUSES).count
    )
    if actor is None or not actor.is_authenticated:
        return public
    return public + own_drafts_count(actor=actor)


def own_drafts_first(
    *, actor: Any, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> Sequence[Post]:
    """The member's first `limit` live drafts in the list's order (-created_at, -id), only
    those that sort before `after` (a (created_at, id) boundary) when given; with relations."""
    drafts = post_list(actor=actor).filter(status=PostStatus.DRAFT, author_id=actor.pk)
    if after is not None:
        created_at, post_id = after
        drafts = drafts.filter(
            Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=post_id)
        )
    page = list(drafts.order_by("-created_at", "-id")[:limit])
    return post_relations_attach(page) if page else page


def own_drafts_count(*, actor: Any) -> int:
    """The member's live drafts: what their list has beyond the public one (cached until the
    next post write)."""
    drafts = Post.objects.filter(LIVE, author_id=actor.pk, status=PostStatus.DRAFT)
    return drafts_count_cached(actor.pk, drafts.count)
