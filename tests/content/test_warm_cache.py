"""`manage.py warm_cache` fills the cache that the public reads then hit."""

from __future__ import annotations

from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from content.models import PostStatus
from tests.content.factories import PostFactory

pytestmark = pytest.mark.django_db


def test_warm_cache_fills_the_feed_and_post_details(api_client: APIClient) -> None:
    posts = [PostFactory() for _ in range(3)]
    draft = PostFactory(status=PostStatus.DRAFT)
    out = StringIO()

    call_command("warm_cache", "--posts", "2", stdout=out)

    host = urlsplit(settings.SITE_URL).netloc
    assert "Post details: 2 cached (0 were already there)" in out.getvalue()
    assert api_client.get("/api/v1/posts", HTTP_HOST=host)["X-Cache"] == "hit"
    assert api_client.get(f"/api/v1/posts/{posts[2].pk}")["X-Cache"] == "hit"
    assert api_client.get(f"/api/v1/posts/{posts[0].pk}")["X-Cache"] == "miss"
    assert "X-Cache" not in api_client.get(f"/api/v1/posts/{draft.pk}")


def test_warming_twice_reports_what_was_cached(api_client: APIClient) -> None:
    PostFactory()
    call_command("warm_cache", stdout=StringIO())
    out = StringIO()

    call_command("warm_cache", stdout=out)

    assert "Feed first page: hit before warming" in out.getvalue()
    assert "(1 were already there)" in out.getvalue()
