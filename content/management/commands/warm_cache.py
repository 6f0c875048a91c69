"""Fill the hot-read cache after a deploy or a cache flush, before traffic finds it cold."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand
from django.test import RequestFactory

from content import selectors
from content.views.posts import PostViewSet


class Command(BaseCommand):
    help = (
        "Cache the public feed's first page (for SITE_URL's host) and the details of the most "
        "recent public posts."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--posts", type=int, default=500, help="How many recent public posts (default 500)."
        )

    def handle(self, *args: Any, posts: int, **options: Any) -> None:
        site = urlsplit(settings.SITE_URL)
        request = RequestFactory().get(
            "/api/v1/posts", secure=site.scheme == "https", HTTP_HOST=site.netloc
        )
        # The same view a client reaches, without the rate limiter counting the warm-up.
        feed = PostViewSet.as_view({"get": "list"}, throttle_classes=[])(request)
        already = 0
        recent = selectors.post_list(actor=None).prefetch_related(None)
        ids = list(recent.values_list("pk", flat=True)[: max(posts, 0)])
        for post_id in ids:
            already += selectors.public_post_detail(post_id=post_id)[1]
        self.stdout.write(
            f"Feed first page: {feed.get('X-Cache', 'miss')} before warming. "
            f"Post details: {len(ids)} cached ({already} were already there)."
        )
