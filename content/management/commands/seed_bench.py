"""`manage.py seed_bench`: the benchmark data set (10k users, 100k posts, 1M comments).

Benchmark fixture data, loaded in bulk: rows are generated in Python and written with COPY on
PostgreSQL (bulk_create in batches on SQLite), without going through the services, so no audit
records, broadcasts or tasks are made for them. The command only runs on a database that holds
nothing but bench data (every user has an address at `BENCH_EMAIL_DOMAIN`): a dedicated bench
database. `--reset` wipes and reseeds it; without it, an already seeded database is left alone.

On PostgreSQL one transaction truncates the tables, drops the keys and indexes of the content
tables, loads with COPY FREEZE and rebuilds keys and indexes by sorting. Measured on the full
set (2 cores): 230 s with the indexes in place (a million random B-tree inserts into nine
indexes, three million deferred foreign key checks, then a VACUUM), 40 s this way. The search
vector trigger (content migration 0002) stays on during the COPY: disabling it and filling the
column with one UPDATE afterwards took 66 s (the UPDATE writes every post twice and needs a
VACUUM); `--search-vectors update` keeps that variant for measuring again.
"""

from __future__ import annotations

import io
import random
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from uuid_utils import uuid7

from accounts.models import Role
from content.models import Comment, Post, PostStatus, Tag

User = get_user_model()

BENCH_EMAIL_DOMAIN = "bench.example"
BENCH_PASSWORD = "agora-bench-password"  # noqa: S105 - a fixture's known password, not a secret  # nosec B105
SEARCH_TRIGGER = "content_post_search_vector"
FILL_SEARCH_VECTORS = (
    "UPDATE content_post SET search_vector = "
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'B')"
)
# content migration 0006: kept per statement on the join table, filled here in one pass instead
# (the trigger's per-post lookup would have no index while the keys are dropped).
TAG_NAMES_TRIGGER = "content_post_tag_names_insert"
FILL_TAG_NAMES = (
    "UPDATE content_post p SET tag_names = t.names FROM (SELECT post_id, "
    "array_agg(tag_id ORDER BY tag_id) AS names FROM content_post_tags GROUP BY post_id) t "
    "WHERE t.post_id = p.id"
)

FIRST_NAMES = (
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis",
    "Radia", "Linus", "Guido", "Zoë", "Jürgen", "Siobhán", "José", "Chloé", "Søren", "Ngozi",
    "Amara", "Hiroshi", "Mei", "Lei", "Priya", "Arjun", "Fatima", "Omar", "Olga", "Ivan",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
    "Hamilton", "Ritchie", "Perlman", "Torvalds", "Rossum", "Müller", "O'Brien", "Nakamura",
    "Li", "Wang", "Okafor", "Haddad", "García", "Kowalski", "Novák", "Larsen", "Sharma", "Petrov",
)  # fmt: skip
TAGS = (
    "python", "django", "postgres", "redis", "celery", "websockets", "asyncio", "performance",
    "security", "testing", "devops", "docker", "linux", "networking", "databases", "caching",
    "api", "rest", "graphql", "frontend", "javascript", "typescript", "rust", "go", "design",
    "architecture", "career", "open-source", "tutorial", "news", "release", "benchmark", "ai",
    "machine-learning", "data", "analytics", "cloud", "kubernetes", "monitoring", "logging",
    "privacy", "accessibility", "mobile", "ux", "community", "events", "hiring", "books",
    "science", "music",
)  # fmt: skip
# Ordered by how common they are in the generated text (Zipf): the last ones are rare, so a
# search for one of them matches a few percent of the posts, as real searches do.
WORDS = (
    "server", "query", "index", "cache", "latency", "throughput", "request", "response", "worker",
    "thread", "process", "socket", "database", "table", "column", "schema", "migration", "deploy",
    "release", "feature", "bug", "fix", "patch", "review", "commit", "branch", "merge", "test",
    "benchmark", "profile", "memory", "garbage", "collector", "compiler", "runtime", "library",
    "framework", "python", "django", "postgres", "redis", "celery", "queue", "broker", "message",
    "event", "stream", "channel", "websocket", "protocol", "header", "token", "session", "cookie",
    "password", "security", "audit", "permission", "role", "admin", "user", "guest", "comment",
    "reply", "post", "draft", "archive", "search", "ranking", "filter", "sort", "page", "cursor",
    "offset", "limit", "count", "estimate", "planner", "vacuum", "analyze", "replica", "primary",
    "failover", "backup", "restore", "snapshot", "volume", "container", "cluster", "node",
    "network", "packet", "router", "proxy", "balancer", "certificate", "encryption", "signature",
    "webhook", "retry", "backoff", "timeout", "deadline", "budget", "garden", "coffee", "morning",
    "weekend", "journey", "mountain", "river", "ocean", "forest", "city", "train", "bicycle",
    "kitchen", "recipe", "bread", "music", "guitar", "piano", "novel", "poem", "museum",
    "painting", "camera", "photo", "winter", "summer", "autumn", "spring", "market", "neighbour",
    "friend", "family", "teacher", "student", "lesson", "question", "answer", "idea", "story",
    "history", "future", "science", "energy", "climate", "planet", "star", "galaxy", "rocket",
    "robot", "sensor", "battery", "engine", "bridge", "quickly", "slowly", "carefully", "finally",
    "really", "almost", "always", "never", "often", "simple", "complex", "fast", "slow",
    "reliable", "broken", "elegant", "tiny", "huge", "modern", "legacy", "stable", "fragile",
    "secure", "shared", "local", "remote", "async", "blocking", "build", "measure", "improve",
    "explain", "debug", "optimise", "refactor", "document", "share", "learn", "teach", "write",
    "read", "ship", "scale", "serve", "store", "rank", "festival",
)  # fmt: skip


@dataclass(frozen=True)
class Scale:
    users: int
    posts: int
    comments: int


@dataclass
class PostSkeleton:
    id: str
    author_id: str
    status: str
    created: float
    published: float | None
    deleted: bool
    comments: int = 0
    deleted_comments: int = 0

    @property
    def live_comments(self) -> int:
        return self.comments - self.deleted_comments


def bench_username(index: int) -> str:
    """The username of bench user `index` (the bench logs in as the first few)."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return f"{first}.{last}.{index}".lower().replace("'", "")


def _uuid_at(timestamp: float) -> str:
    """A UUIDv7 whose time part is `timestamp` (ids sort like creation times)."""
    return str(uuid7(nanoseconds=int(timestamp * 1_000_000_000)))


def _iso(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


class Generator:
    """Deterministic (seeded) rows of the bench data set."""

    def __init__(self, scale: Scale, *, seed: int, now: float) -> None:
        self.scale = scale
        self.random = random.Random(seed)  # noqa: S311 - reproducible fixture data  # nosec B311
        self.now = now
        self.year_ago = now - 365 * 86400
        rnd = self.random
        self.word_weights = list(accumulate(1 / rank**1.1 for rank in range(1, len(WORDS) + 1)))
        self.sentences = [self._sentence(rnd.randint(6, 16)) for _ in range(4000)]
        self.post_bodies = [
            "\n\n".join(
                " ".join(rnd.choices(self.sentences, k=rnd.randint(2, 6)))
                for _ in range(rnd.randint(1, 4))
            )
            for _ in range(3000)
        ]
        self.comment_bodies = [
            " ".join(rnd.choices(self.sentences, k=rnd.randint(1, 3))) for _ in range(5000)
        ]
        self.user_ids: list[str] = []
        self.writer_ids: list[str] = []

    def _sentence(self, words: int) -> str:
        text = " ".join(self.random.choices(WORDS, cum_weights=self.word_weights, k=words))
        return text[0].upper() + text[1:] + self.random.choice(".!?...")[:1]

    def title(self) -> str:
        words = self.random.randint(3, 9)
        text = " ".join(self.random.choices(WORDS, cum_weights=self.word_weights, k=words))
        return text[0].upper() + text[1:]

    def users(self) -> Iterator[dict[str, Any]]:
        rnd = self.random
        for index in range(self.scale.users):
            joined = self.year_ago - rnd.uniform(0, 365 * 86400)
            user_id = _uuid_at(joined)
            # The first hundred are the bench's logins; a few others have not verified yet.
            guest = index >= 100 and rnd.random() < 0.03
            self.user_ids.append(user_id)
            if not guest:
                self.writer_ids.append(user_id)
            username = bench_username(index)
            first = FIRST_NAMES[index % len(FIRST_NAMES)]
            last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
            yield {
                "id": user_id,
                "username": username,
                "email": f"{username}@{BENCH_EMAIL_DOMAIN}",
                "first_name": first,
                "last_name": last,
                "display_name": f"{first} {last}",
                "role": Role.GUEST if guest else Role.USER,
                "email_verified": not guest,
                "date_joined": _iso(joined),
            }

    def post_skeletons(self) -> list[PostSkeleton]:
        """Every post's id, author, status and times, with its share of the comments."""
        rnd = self.random
        # A few prolific authors, many occasional ones.
        weights = [rnd.paretovariate(1.3) for _ in self.writer_ids]
        authors = rnd.choices(self.writer_ids, weights=weights, k=self.scale.posts)
        skeletons = []
        for author_id in authors:
            created = rnd.uniform(self.year_ago, self.now - 60)
            roll = rnd.random()
            status = (
                PostStatus.PUBLISHED
                if roll < 0.8
                else PostStatus.DRAFT
                if roll < 0.92
                else PostStatus.ARCHIVED
            )
            published = (
                None
                if status == PostStatus.DRAFT
                else min(self.now - 30, created + rnd.uniform(0, 2 * 86400))
            )
            skeletons.append(
                PostSkeleton(
                    id=_uuid_at(created),
                    author_id=author_id,
                    status=status,
                    created=created,
                    published=published,
                    deleted=rnd.random() < 0.01,
                )
            )
        public = [post for post in skeletons if post.status != PostStatus.DRAFT]
        if public and self.scale.comments:
            # Heavy-tailed: a few hot threads, a long tail of quiet ones.
            popularity = [rnd.paretovariate(1.5) for _ in public]
            picks = Counter(
                rnd.choices(range(len(public)), weights=popularity, k=self.scale.comments)
            )
            for index, count in picks.items():
                public[index].comments = count
                # About one comment in a hundred is soft-deleted; comment_count skips them.
                public[index].deleted_comments = sum(rnd.random() < 0.01 for _ in range(count))
        return skeletons

    def post_row(self, post: PostSkeleton) -> dict[str, Any]:
        rnd = self.random
        updated = min(self.now, (post.published or post.created) + rnd.uniform(0, 3 * 86400))
        return {
            "id": post.id,
            "author_id": post.author_id,
            "title": self.title(),
            "body": rnd.choice(self.post_bodies),
            "status": post.status,
            "comment_count": post.live_comments,
            "created_at": _iso(post.created),
            "updated_at": _iso(updated),
            "published_at": _iso(post.published),
            "deleted_at": _iso(updated) if post.deleted else None,
            "deleted_by_id": post.author_id if post.deleted else None,
        }

    def post_tags(self, post: PostSkeleton) -> list[str]:
        return self.random.sample(TAGS, self.random.randint(0, 5))

    def comments(self, post: PostSkeleton) -> list[dict[str, Any]]:
        """The comments of `post` in time order; about a third are replies to earlier ones."""
        rnd = self.random
        begin = post.published or post.created
        times = sorted(rnd.uniform(begin, self.now) for _ in range(post.comments))
        deleted_positions = set(rnd.sample(range(post.comments), post.deleted_comments))
        rows: list[dict[str, Any]] = []
        for position, at in enumerate(times):
            parent = rnd.choice(rows)["id"] if rows and rnd.random() < 0.3 else None
            author_id = rnd.choice(self.writer_ids)
            deleted = position in deleted_positions
            rows.append(
                {
                    "id": _uuid_at(at),
                    "post_id": post.id,
                    "parent_id": parent,
                    "author_id": author_id,
                    "body": rnd.choice(self.comment_bodies),
                    "created_at": _iso(at),
                    "updated_at": _iso(at),
                    "deleted_at": _iso(at) if deleted else None,
                    "deleted_by_id": author_id if deleted else None,
                }
            )
        return rows


class Loader(ABC):
    """Writes rows of one model; subclasses for PostgreSQL COPY and for bulk_create."""

    @abstractmethod
    def write(self, model: type[models.Model], rows: Iterable[dict[str, Any]]) -> int:
        """Write `rows` of `model`; returns how many."""


class CopyLoader(Loader):
    """PostgreSQL: COPY in text format, the fields a row leaves out get their model default."""

    BUFFER_ROWS = 5000

    def write(self, model: type[models.Model], rows: Iterable[dict[str, Any]]) -> int:
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return 0
        fields = [f for f in model._meta.concrete_fields if not _db_generated(f)]
        given = [f for f in fields if f.attname in first]
        defaults = [f for f in fields if f.attname not in first]
        suffix = "".join(
            "\t" + _copy_text(f.get_db_prep_save(f.get_default(), connection)) for f in defaults
        )
        names = [f.attname for f in given]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in [*given, *defaults])
        table = connection.ops.quote_name(model._meta.db_table)
        sql = f"COPY {table} ({columns}) FROM STDIN WITH (FREEZE)"
        count = 0
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            buffer = io.StringIO()
            for row in _chain_first(first, iterator):
                buffer.write("\t".join([_copy_text(row[name]) for name in names]) + suffix + "\n")
                count += 1
                if count % self.BUFFER_ROWS == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        return count


class BulkCreateLoader(Loader):
    BATCH = 2000

    def write(self, model: type[models.Model], rows: Iterable[dict[str, Any]]) -> int:
        count = 0
        batch: list[models.Model] = []
        for row in rows:
            batch.append(model(**row))
            if len(batch) >= self.BATCH:
                count += len(_bulk_create(model, batch))
                batch = []
        count += len(_bulk_create(model, batch))
        return count


def _bulk_create(model: type[models.Model], objects: list[models.Model]) -> list[models.Model]:
    if not objects:
        return []
    # auto_now(_add) would overwrite the generated times; keep them as given.
    timed = [f for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
    timed += [f for f in model._meta.concrete_fields if getattr(f, "auto_now_add", False)]
    flags = [(f, f.auto_now, f.auto_now_add) for f in timed]
    for f in timed:
        f.auto_now = f.auto_now_add = False
    try:
        return model.objects.bulk_create(objects)
    finally:
        for f, auto_now, auto_now_add in flags:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def _db_generated(field: models.Field) -> bool:
    return isinstance(field, models.GeneratedField) or (
        isinstance(field, models.AutoField) and field.primary_key
    )


def _chain_first(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_ESCAPES)


class Command(BaseCommand):
    help = "Load the benchmark data set (users, posts, comments) into a dedicated database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=10_000)
        parser.add_argument("--posts", type=int, default=100_000)
        parser.add_argument("--comments", type=int, default=1_000_000)
        parser.add_argument(
            "--reset", action="store_true", help="wipe the bench data and load it again"
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed (same data)")
        parser.add_argument(
            "--search-vectors",
            choices=["trigger", "update"],
            default="trigger",
            help="PostgreSQL: fill search vectors by the trigger during COPY (default) or by one "
            "UPDATE after it",
        )
        parser.add_argument(
            "--password",
            default=BENCH_PASSWORD,
            help=f"password of every bench user (default {BENCH_PASSWORD!r})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scale = Scale(options["users"], options["posts"], options["comments"])
        if scale.users < 1 or scale.posts < 0 or scale.comments < 0:
            raise CommandError("--users must be at least 1; --posts and --comments at least 0.")
        others = User.objects.exclude(email__endswith=f"@{BENCH_EMAIL_DOMAIN}").count()
        if others:
            raise CommandError(
                f"This database has {others} users that seed_bench did not make; it only runs "
                "on a dedicated bench database (set DATABASE_URL to one)."
            )
        existing = User.objects.count()
        if existing and not options["reset"]:
            self.stdout.write(
                f"Bench data already loaded ({existing} users, {Post.objects.count()} posts); "
                "nothing done. Use --reset to load it again."
            )
            return
        postgres = connection.vendor == "postgresql"
        self.stdout.write(
            f"Seeding {scale.users} users, {scale.posts} posts, {scale.comments} comments "
            f"({'COPY' if postgres else 'bulk_create'} on {connection.vendor})"
        )
        started = time.perf_counter()
        generator = Generator(scale, seed=options["seed"], now=time.time())
        password = make_password(options["password"])
        if postgres:
            self._seed_postgresql(generator, password, options["search_vectors"])
        else:
            if existing:
                self._timed("reset", self._reset_sqlite)
            with transaction.atomic():
                self._load(generator, BulkCreateLoader(), password)
        self.stdout.write(f"Done in {time.perf_counter() - started:.1f} s.")

    def _seed_postgresql(self, generator: Generator, password: str, search_vectors: str) -> None:
        """One transaction: truncate, drop the content tables' keys and indexes, COPY FREEZE,
        rebuild keys and indexes (a sorted build instead of a million random inserts), commit.

        The truncate in the same transaction is what lets COPY FREEZE write the rows frozen and
        visible, so no VACUUM has to rewrite a million fresh rows afterwards.
        """
        bulk_tables = [Post._meta.db_table, Post.tags.through._meta.db_table]
        bulk_tables.append(Comment._meta.db_table)
        wiped = [User._meta.db_table, Tag._meta.db_table, *bulk_tables]
        with transaction.atomic():
            # Every user is a bench user (checked): their sessions, audits and jobs go too.
            _execute(f"TRUNCATE {', '.join(wiped)} CASCADE")
            _execute("SET LOCAL maintenance_work_mem = '512MB'")
            saved = self._timed("drop keys", lambda: _drop_keys_and_indexes(bulk_tables))
            if search_vectors == "update":
                _execute(f"ALTER TABLE content_post DISABLE TRIGGER {SEARCH_TRIGGER}")
            _execute(f"ALTER TABLE content_post_tags DISABLE TRIGGER {TAG_NAMES_TRIGGER}")
            self._load(generator, CopyLoader(), password)
            self._timed("tag names", lambda: _execute(FILL_TAG_NAMES))
            _execute(f"ALTER TABLE content_post_tags ENABLE TRIGGER {TAG_NAMES_TRIGGER}")
            if search_vectors == "update":
                self._timed("search vectors", lambda: _execute(FILL_SEARCH_VECTORS))
                _execute(f"ALTER TABLE content_post ENABLE TRIGGER {SEARCH_TRIGGER}")
            self._timed("rebuild keys", lambda: _restore(saved))
        analyze = "VACUUM ANALYZE" if search_vectors == "update" else "ANALYZE"
        self._timed(analyze.lower(), lambda: _execute(f"{analyze} {', '.join(wiped)}"))
        if search_vectors != "update":
            # The tag names' UPDATE left a dead version of every tagged post behind.
            self._timed("vacuum posts", lambda: _execute(f"VACUUM {Post._meta.db_table}"))

    def _load(self, generator: Generator, loader: Loader, password: str) -> None:
        fixed = {"password": password, "is_active": True, "is_staff": False}
        self._timed(
            "users",
            lambda: loader.write(
                User, ({**row, **fixed, "is_superuser": False} for row in generator.users())
            ),
        )
        self._timed("tags", lambda: loader.write(Tag, ({"name": name} for name in TAGS)))
        skeletons = self._timed("plan", generator.post_skeletons, count=False)
        self._timed("posts", lambda: loader.write(Post, map(generator.post_row, skeletons)))
        through = Post.tags.through
        post_column = Post.tags.field.m2m_column_name()
        tag_column = Post.tags.field.m2m_reverse_name()
        self._timed(
            "post tags",
            lambda: loader.write(
                through,
                (
                    {post_column: post.id, tag_column: tag}
                    for post in skeletons
                    for tag in generator.post_tags(post)
                ),
            ),
        )
        self._timed(
            "comments",
            lambda: loader.write(
                Comment, (row for post in skeletons for row in generator.comments(post))
            ),
        )

    def _reset_sqlite(self) -> None:
        with transaction.atomic():
            for model in (Comment, Post.tags.through, Post, Tag):
                table = connection.ops.quote_name(model._meta.db_table)
                _execute(f"DELETE FROM {table}")  # noqa: S608 - a model's own table name  # nosec B608
            User.objects.all().delete()

    def _timed(self, label: str, step: Callable[[], Any], *, count: bool = True) -> Any:
        started = time.perf_counter()
        result = step()
        elapsed = time.perf_counter() - started
        rows = f" ({result} rows)" if count and isinstance(result, int) else ""
        self.stdout.write(f"  {label:<16}{elapsed:>8.1f} s{rows}")
        self.stdout.flush()
        return result


def _execute(sql: str, params: Sequence[Any] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


SavedKeys = list[str]


def _drop_keys_and_indexes(tables: list[str]) -> SavedKeys:
    """Drop the keys, constraints backed by indexes, and indexes of `tables`; returns the DDL
    that restores them (primary and unique keys first, then indexes, then foreign keys)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conname, c.conrelid::regclass::text, c.contype, pg_get_constraintdef(c.oid)
            FROM pg_constraint c
            WHERE c.contype IN ('p', 'u', 'f')
              AND (c.conrelid::regclass::text = ANY(%s) OR c.confrelid::regclass::text = ANY(%s))
            """,
            [tables, tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid::regclass::text = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        quote = connection.ops.quote_name
        keys = [(n, t, d) for n, t, kind, d in constraints if kind != "f"]
        foreign = [(n, t, d) for n, t, kind, d in constraints if kind == "f"]
        for name, table, _ in [*foreign, *keys]:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    restore = [f"ALTER TABLE {t} ADD CONSTRAINT {quote(n)} {d}" for n, t, d in keys]
    restore += [definition for _, definition in indexes]
    restore += [f"ALTER TABLE {t} ADD CONSTRAINT {quote(n)} {d}" for n, t, d in foreign]
    return restore


def _restore(statements: SavedKeys) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
