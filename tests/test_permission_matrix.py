"""Every API operation by every kind of caller: who gets what.

One row per operation, and more where ownership or visibility decides (the user's own post,
someone else's post, someone else's draft …); one column per caller:

    anonymous  no credentials
    guest      signed up, email not verified (role guest); bearer token
    user       verified account (role user); bearer token
    admin      role admin; bearer token
    user_key   the user's API key (X-API-Key)
    admin_key  the admin's API key (X-API-Key)

Every caller sends its real credential, so authentication is part of what is tested. A cell
is the answer to a well-formed request (a valid body, an object that exists): a success status
(200, 201, 202, 204), or a refusal, which is checked with its error code: 400
`validation_error` (the bulk endpoints refuse others' posts item by item), 401
`not_authenticated`, 403 `permission_denied`, `UNV` (403 `email_not_verified`), 404
`not_found` (also for an object the caller may not see). A wrong cell fails as a test of its
own, `test_cell[<METHOD> <path> <target> | <caller>]`, and says what it got.

`test_every_routed_operation_has_a_row` enumerates the URL resolver: an operation routed under
/api/v1/ without a row fails it (and so does a row for an operation that is not routed), so a
new endpoint cannot ship without someone deciding who may call it. And every status in a row
must be among the responses the OpenAPI document gives for that operation.

Speed: the world (users, logins, keys, posts, comments, an audit record) is built once per
module in a transaction that is rolled back after the last cell; each cell runs in a savepoint
of its own (pytest-django's `db`), so no cell sees another's writes, and on-commit side
effects (broadcasts, tasks, audit sealing) never run.
"""

# The table is wider than the house's 100 columns only where a path and a target are long.
# ruff: noqa: E501

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import override_settings
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import api_key_create
from accounts.tokens import (
    email_verification_token_make,
    password_reset_token_make,
    refresh_token_read,
)
from audits.services import audit_record_write
from content.models import PostAttachment, PostStatus, Upload
from content.services import upload_create
from realtime.models import NotificationKind
from realtime.services import notification_create
from tasks.models import Job
from tasks.runner import job_run
from tasks.services import job_create
from tasks.services.webhooks import webhook_endpoint_create
from tests.content.factories import CommentFactory, PostFactory
from tests.factories import PASSWORD, AdminFactory, GuestFactory, UserFactory, token_pair
from tests.tasks.fake_openai import FakeOpenAI

API = "/api/v1"
CALLERS = ("anonymous", "guest", "user", "admin", "user_key", "admin_key")
UNV = "403 email_not_verified"
ERROR_CODES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
}
Cell = int | str

# fmt: off
MATRIX: list[tuple[str, str, str, Cell, Cell, Cell, Cell, Cell, Cell]] = [
    # method   path (as routed, under /api/v1)   target                    anonymous user      user_key
    #                                                                           guest     admin     admin_key
    # Accounts: the public auth endpoints read no credentials, so every caller is alike.
    ("POST",   "/auth/register",                 "",                       202, 202, 202, 202, 202, 202),
    ("POST",   "/auth/verify-email",             "",                       200, 200, 200, 200, 200, 200),
    ("POST",   "/auth/token",                    "",                       200, 200, 200, 200, 200, 200),
    ("POST",   "/auth/token/refresh",            "",                       200, 200, 200, 200, 200, 200),
    ("POST",   "/auth/logout",                   "",                       204, 204, 204, 204, 204, 204),
    ("POST",   "/auth/password-reset",           "",                       202, 202, 202, 202, 202, 202),
    ("POST",   "/auth/password-reset/confirm",   "",                       200, 200, 200, 200, 200, 200),
    ("POST",   "/auth/logout-all",               "",                       401, 204, 204, 204, 204, 204),
    ("POST",   "/auth/password-change",          "",                       401, 200, 200, 200, 200, 200),
    ("POST",   "/auth/ws-ticket",                "",                       401, 201, 201, 201, 201, 201),
    # Logged-in endpoints: a key acts as its owner (so it may end the owner's logins, or get a
    # WebSocket ticket), but API keys cannot manage API keys. Keys and logins are one's own:
    # others' are 404, for admins too (they revoke keys in the admin site).
    ("GET",    "/auth/api-keys",                 "",                       401, 200, 200, 200, 403, 403),
    ("POST",   "/auth/api-keys",                 "",                       401, UNV, 201, 201, 403, 403),
    ("DELETE", "/auth/api-keys/{key_id}",        "users_spare_key",        401, 404, 204, 404, 403, 403),
    ("GET",    "/auth/sessions",                 "",                       401, 200, 200, 200, 200, 200),
    ("DELETE", "/auth/sessions/{session_id}",    "users_spare_login",      401, 404, 204, 404, 204, 404),
    ("GET",    "/users",                         "",                       401, 403, 403, 200, 403, 200),
    ("GET",    "/users/me",                      "",                       401, 200, 200, 200, 200, 200),
    ("PATCH",  "/users/me",                      "",                       401, 200, 200, 200, 200, 200),
    ("GET",    "/users/{user_id}",               "other",                  200, 200, 200, 200, 200, 200),
    ("PATCH",  "/users/{user_id}",               "other",                  401, 403, 403, 200, 403, 200),
    # Audits: admins only, an admin's key included (that is the "service API key").
    ("GET",    "/audits",                        "",                       401, 403, 403, 200, 403, 200),
    ("POST",   "/audits",                        "",                       401, 403, 403, 201, 403, 201),
    ("GET",    "/audits/{record_id}",            "record",                 401, 403, 403, 200, 403, 200),
    ("PATCH",  "/audits/{record_id}",            "record",                 401, 403, 403, 200, 403, 200),
    ("PUT",    "/audits/{record_id}",            "record",                 401, 403, 403, 200, 403, 200),
    ("DELETE", "/audits/{record_id}",            "record",                 401, 403, 403, 204, 403, 204),
    # Posts: anyone reads what is published; members write; authors or admins change.
    ("GET",    "/posts",                         "",                       200, 200, 200, 200, 200, 200),
    ("POST",   "/posts",                         "",                       401, UNV, 201, 201, 201, 201),
    ("GET",    "/posts/{pk}",                    "others_post",            200, 200, 200, 200, 200, 200),
    ("GET",    "/posts/{pk}",                    "others_draft",           404, 404, 404, 200, 404, 200),
    ("GET",    "/posts/{pk}",                    "users_draft",            404, 404, 200, 200, 200, 200),
    ("GET",    "/posts/{pk}",                    "others_trashed_post",    404, 404, 404, 200, 404, 200),
    ("PUT",    "/posts/{pk}",                    "users_post",             401, UNV, 200, 200, 200, 200),
    ("PUT",    "/posts/{pk}",                    "others_post",            401, UNV, 403, 200, 403, 200),
    ("PATCH",  "/posts/{pk}",                    "users_post",             401, UNV, 200, 200, 200, 200),
    ("PATCH",  "/posts/{pk}",                    "others_post",            401, UNV, 403, 200, 403, 200),
    ("PATCH",  "/posts/{pk}",                    "others_draft",           401, UNV, 404, 200, 404, 200),
    ("DELETE", "/posts/{pk}",                    "users_post",             401, UNV, 204, 204, 204, 204),
    ("DELETE", "/posts/{pk}",                    "others_post",            401, UNV, 403, 204, 403, 204),
    ("POST",   "/posts/{pk}/restore",            "users_trashed_post",     401, UNV, 200, 200, 200, 200),
    ("POST",   "/posts/{pk}/restore",            "others_trashed_post",    401, UNV, 404, 200, 404, 200),
    ("POST",   "/posts/bulk",                    "",                       401, UNV, 201, 201, 201, 201),
    ("PATCH",  "/posts/bulk",                    "users_post",             401, UNV, 200, 200, 200, 200),
    ("PATCH",  "/posts/bulk",                    "others_post",            401, UNV, 400, 200, 400, 200),
    ("POST",   "/posts/bulk-delete",             "users_post",             401, UNV, 200, 200, 200, 200),
    ("POST",   "/posts/bulk-delete",             "others_post",            401, UNV, 400, 200, 400, 200),
    ("GET",    "/posts/export",                  "",                       200, 200, 200, 200, 200, 200),
    ("GET",    "/posts/stats",                   "",                       401, 200, 200, 200, 200, 200),
    ("GET",    "/posts/{pk}/comments",           "others_post",            200, 200, 200, 200, 200, 200),
    ("GET",    "/posts/{pk}/comments",           "others_draft",           404, 404, 404, 200, 404, 200),
    ("POST",   "/posts/{pk}/comments",           "others_post",            401, UNV, 201, 201, 201, 201),
    ("POST",   "/posts/{pk}/comments",           "others_draft",           401, UNV, 404, 201, 404, 201),
    ("POST",   "/posts/{pk}/comments",           "users_draft",            401, UNV, 201, 201, 201, 201),
    ("POST",   "/posts/{pk}/comments",           "archived_post",          401, UNV, 403, 403, 403, 403),
    # Comments: the same rules as posts.
    ("GET",    "/comments",                      "",                       200, 200, 200, 200, 200, 200),
    ("GET",    "/comments/{pk}",                 "others_comment",         200, 200, 200, 200, 200, 200),
    ("GET",    "/comments/{pk}",                 "comment_on_draft",       404, 404, 404, 200, 404, 200),
    ("PUT",    "/comments/{pk}",                 "users_comment",          401, UNV, 200, 200, 200, 200),
    ("PUT",    "/comments/{pk}",                 "others_comment",         401, UNV, 403, 200, 403, 200),
    ("PATCH",  "/comments/{pk}",                 "users_comment",          401, UNV, 200, 200, 200, 200),
    ("PATCH",  "/comments/{pk}",                 "others_comment",         401, UNV, 403, 200, 403, 200),
    ("PATCH",  "/comments/{pk}",                 "comment_on_draft",       401, UNV, 404, 200, 404, 200),
    ("DELETE", "/comments/{pk}",                 "users_comment",          401, UNV, 204, 204, 204, 204),
    ("DELETE", "/comments/{pk}",                 "others_comment",         401, UNV, 403, 204, 403, 204),
    ("POST",   "/comments/{pk}/restore",         "users_trashed_comment",  401, UNV, 200, 200, 200, 200),
    ("POST",   "/comments/{pk}/restore",         "others_trashed_comment", 401, UNV, 404, 200, 404, 200),
    # Notifications: every account has its own, a guest's included; a key acts as its owner.
    # Marking takes ids: others' are ignored (`updated` 0), never refused.
    ("GET",    "/notifications",                 "",                       401, 200, 200, 200, 200, 200),
    ("POST",   "/notifications/read",            "users_notification",     401, 200, 200, 200, 200, 200),
    # Uploads: members upload; an upload is read by its owner, admins, and anyone once it is
    # attached to a post they can read; the owner or an admin deletes it.
    ("GET",    "/uploads",                       "",                       401, 200, 200, 200, 200, 200),
    ("POST",   "/uploads",                       "",                       401, UNV, 201, 201, 201, 201),
    ("GET",    "/uploads/{pk}",                  "users_upload",           404, 404, 200, 200, 200, 200),
    ("GET",    "/uploads/{pk}",                  "others_upload",          404, 404, 404, 200, 404, 200),
    ("GET",    "/uploads/{pk}",                  "attached_upload",        200, 200, 200, 200, 200, 200),
    ("GET",    "/uploads/{pk}",                  "draft_upload",           404, 404, 404, 200, 404, 200),
    ("GET",    "/uploads/{pk}/content",          "users_upload",           404, 404, 200, 200, 200, 200),
    ("GET",    "/uploads/{pk}/content",          "others_upload",          404, 404, 404, 200, 404, 200),
    ("GET",    "/uploads/{pk}/content",          "attached_upload",        200, 200, 200, 200, 200, 200),
    ("GET",    "/uploads/{pk}/content",          "draft_upload",           404, 404, 404, 200, 404, 200),
    ("GET",    "/uploads/{pk}/thumbnails/{size}", "users_upload",          404, 404, 200, 200, 200, 200),
    ("GET",    "/uploads/{pk}/thumbnails/{size}", "others_upload",         404, 404, 404, 200, 404, 200),
    ("GET",    "/uploads/{pk}/thumbnails/{size}", "attached_upload",       200, 200, 200, 200, 200, 200),
    ("GET",    "/uploads/{pk}/thumbnails/{size}", "draft_upload",          404, 404, 404, 200, 404, 200),
    ("DELETE", "/uploads/{pk}",                  "users_upload",           401, UNV, 204, 204, 204, 204),
    ("DELETE", "/uploads/{pk}",                  "others_upload",          401, UNV, 404, 204, 404, 204),
    ("DELETE", "/uploads/{pk}",                  "attached_upload",        401, UNV, 403, 204, 403, 204),
    # Jobs: every account runs jobs of its own, a guest too (a job writes no content); a key
    # acts as its owner. Others' jobs are 404 but to admins, who read and cancel any; a result
    # file is downloaded by its owner only. Dead letters and requeue are admins' (keys too).
    ("GET",    "/jobs",                          "",                       401, 200, 200, 200, 200, 200),
    ("POST",   "/jobs",                          "",                       401, 202, 202, 202, 202, 202),
    ("POST",   "/jobs/batch",                    "",                       401, 202, 202, 202, 202, 202),
    ("GET",    "/jobs/dead-letters",             "",                       401, 403, 403, 200, 403, 200),
    ("GET",    "/jobs/{job_id}",                 "users_job",              401, 404, 200, 200, 200, 200),
    ("GET",    "/jobs/{job_id}",                 "others_job",             401, 404, 404, 200, 404, 200),
    ("POST",   "/jobs/{job_id}/cancel",          "users_job",              401, 404, 200, 200, 200, 200),
    ("POST",   "/jobs/{job_id}/cancel",          "others_job",             401, 404, 404, 200, 404, 200),
    ("GET",    "/jobs/{job_id}/result",          "users_finished_job",     401, 404, 200, 404, 200, 404),
    ("POST",   "/jobs/{job_id}/requeue",         "users_dead_job",         401, 403, 403, 202, 403, 202),
    # The AI assistant answers verified members (a key acts as its owner), through a local
    # provider (tests/tasks/fake_openai.py).
    ("POST",   "/ai/chat",                       "",                       401, UNV, 200, 200, 200, 200),
    # Webhooks: every account has endpoints of its own (a guest's get its notifications and
    # jobs); a key acts as its owner. Anyone else's endpoint, an admin's view included, is 404.
    ("GET",    "/webhooks",                      "",                       401, 200, 200, 200, 200, 200),
    ("POST",   "/webhooks",                      "",                       401, 201, 201, 201, 201, 201),
    ("GET",    "/webhooks/{endpoint_id}",        "users_webhook",          401, 404, 200, 404, 200, 404),
    ("GET",    "/webhooks/{endpoint_id}",        "others_webhook",         401, 404, 404, 404, 404, 404),
    ("PATCH",  "/webhooks/{endpoint_id}",        "users_webhook",          401, 404, 200, 404, 200, 404),
    ("PATCH",  "/webhooks/{endpoint_id}",        "others_webhook",         401, 404, 404, 404, 404, 404),
    ("DELETE", "/webhooks/{endpoint_id}",        "users_webhook",          401, 404, 204, 404, 204, 404),
    ("DELETE", "/webhooks/{endpoint_id}",        "others_webhook",         401, 404, 404, 404, 404, 404),
    ("GET",    "/webhooks/{endpoint_id}/deliveries", "users_webhook",      401, 404, 200, 404, 200, 404),
    ("GET",    "/webhooks/{endpoint_id}/deliveries", "others_webhook",     401, 404, 404, 404, 404, 404),
    ("POST",   "/webhooks/{endpoint_id}/test",   "users_webhook",          401, 404, 202, 404, 202, 404),
    ("POST",   "/webhooks/{endpoint_id}/test",   "others_webhook",         401, 404, 404, 404, 404, 404),
]
# fmt: on

NEW_PASSWORD = "ein neues Passwort für Müller"
POST_BODY = {
    "title": "Grüße aus Köln — O'Brien's notes",
    "body": "First post 🚀",
    "status": "published",
    "tags": ["köln"],
}
EVENT = {"action": "invoice.paid", "target_type": "invoice", "target_id": "INV-2026-0042"}
# A receiver address the module allows (WEBHOOK_ALLOWED_NETWORKS); nothing listens there.
WEBHOOK_URL = "http://127.0.0.2:9/hook"


@dataclass(frozen=True)
class World:
    """What the cells act on: each caller's credential headers, the ids of the targets, and
    the single-use secrets the public auth endpoints take."""

    headers: dict[str, dict[str, str]]
    ids: dict[str, str]
    other: User
    verification_token: str
    reset_token: str
    others_refresh_token: str


# A valid body (for a GET, the query) per operation, so a refusal is about who asks, never
# about what was sent. `target` is the id of the row's target.
PAYLOADS: dict[tuple[str, str], Callable[[World, str], dict[str, Any]]] = {
    ("POST", "/auth/register"): lambda w, target: {
        "email": "zoe.angstrom@example.org",
        "username": "zoë_ångström",
        "password": NEW_PASSWORD,
    },
    ("POST", "/auth/verify-email"): lambda w, target: {"token": w.verification_token},
    ("POST", "/auth/token"): lambda w, target: {
        "grant_type": "password",
        "username": w.other.username,
        "password": PASSWORD,
    },
    ("POST", "/auth/token/refresh"): lambda w, target: {"refresh_token": w.others_refresh_token},
    ("POST", "/auth/logout"): lambda w, target: {"refresh_token": w.others_refresh_token},
    ("POST", "/auth/password-reset"): lambda w, target: {"email": w.other.email},
    ("POST", "/auth/password-reset/confirm"): lambda w, target: {
        "token": w.reset_token,
        "new_password": NEW_PASSWORD,
    },
    ("POST", "/auth/password-change"): lambda w, target: {
        "old_password": PASSWORD,
        "new_password": NEW_PASSWORD,
    },
    ("POST", "/auth/api-keys"): lambda w, target: {"name": "Nightly export"},
    ("PATCH", "/users/me"): lambda w, target: {"display_name": "Siobhán O'Brien"},
    ("PATCH", "/users/{user_id}"): lambda w, target: {"role": "admin"},
    ("POST", "/audits"): lambda w, target: EVENT,
    ("PATCH", "/audits/{record_id}"): lambda w, target: {"status": "acknowledged"},
    ("PUT", "/audits/{record_id}"): lambda w, target: {"status": "resolved", "note": "Geprüft."},
    ("POST", "/posts"): lambda w, target: POST_BODY,
    ("PUT", "/posts/{pk}"): lambda w, target: POST_BODY,
    ("PATCH", "/posts/{pk}"): lambda w, target: {"title": "Zoë's second thoughts"},
    ("POST", "/posts/bulk"): lambda w, target: {"items": [POST_BODY]},
    ("PATCH", "/posts/bulk"): lambda w, target: {"items": [{"id": target, "title": "Bulk ✨"}]},
    ("POST", "/posts/bulk-delete"): lambda w, target: {"ids": [target]},
    ("GET", "/posts/export"): lambda w, target: {"file_format": "csv"},
    ("POST", "/posts/{pk}/comments"): lambda w, target: {"body": "Schön! 👍"},
    ("PUT", "/comments/{pk}"): lambda w, target: {"body": "同意，写得很好。"},  # noqa: RUF001
    ("PATCH", "/comments/{pk}"): lambda w, target: {"body": "O'Brien, edited"},
    ("POST", "/notifications/read"): lambda w, target: {"ids": [target]},
    ("POST", "/jobs"): lambda w, target: {"kind": "noop", "params": {"tag": "Grüß Gott, 李雷!"}},
    ("POST", "/jobs/batch"): lambda w, target: {"jobs": [{"kind": "noop"}, {"kind": "steps"}]},
    ("POST", "/ai/chat"): lambda w, target: {
        "messages": [{"role": "user", "content": "Grüß Gott!"}]
    },
    ("POST", "/webhooks"): lambda w, target: {"url": WEBHOOK_URL, "events": ["notification"]},
    ("PATCH", "/webhooks/{endpoint_id}"): lambda w, target: {"events": ["job.finished"]},
    ("POST", "/uploads"): lambda w, target: {
        "file": SimpleUploadedFile("Zoë's notes.txt", "Grüße, 李雷 🚀\n".encode())
    },
}
# Path parameters that are not the row's target.
PATH_VALUES = {"size": "256"}


def _row_id(row: tuple[Any, ...]) -> str:
    method, path, target = row[:3]
    return f"{method} {path}" + (f" {target}" if target else "")


def _expected(cell: Cell) -> str:
    if isinstance(cell, str):
        return cell
    return f"{cell} {ERROR_CODES[cell]}" if cell >= 400 else str(cell)


def _answer(response: Any) -> str:
    if response.status_code < 400:
        return str(response.status_code)
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "(no error envelope)"
    return f"{response.status_code} {code}"


# --- the world ------------------------------------------------------------------------------


def _session_id(refresh_token: str) -> str:
    claims = refresh_token_read(refresh_token)
    assert claims is not None
    return str(claims.session_id)


def _world_build() -> World:
    guest, user, admin, other = GuestFactory(), UserFactory(), AdminFactory(), UserFactory()
    _, user_secret = api_key_create(user=user, name="billing service")
    _, admin_secret = api_key_create(user=admin, name="ops service")
    spare_key, _ = api_key_create(user=user, name="spare")
    others_post = PostFactory(author=other)
    others_draft = PostFactory(author=other, status=PostStatus.DRAFT)
    attached_upload, draft_upload = _upload(other), _upload(other)
    PostAttachment.objects.create(post=others_post, upload=attached_upload, position=0)
    PostAttachment.objects.create(post=others_draft, upload=draft_upload, position=0)
    ids = {
        "other": str(other.pk),
        "users_post": str(PostFactory(author=user).pk),
        "others_post": str(others_post.pk),
        "others_draft": str(others_draft.pk),
        "users_draft": str(PostFactory(author=user, status=PostStatus.DRAFT).pk),
        "archived_post": str(PostFactory(author=other, status=PostStatus.ARCHIVED).pk),
        "users_trashed_post": str(PostFactory(author=user, deleted=True).pk),
        "others_trashed_post": str(PostFactory(author=other, deleted=True).pk),
        "users_comment": str(CommentFactory(post=others_post, author=user).pk),
        "others_comment": str(CommentFactory(post=others_post, author=other).pk),
        "comment_on_draft": str(CommentFactory(post=others_draft, author=other).pk),
        "users_trashed_comment": str(
            CommentFactory(post=others_post, author=user, deleted=True).pk
        ),
        "others_trashed_comment": str(
            CommentFactory(post=others_post, author=other, deleted=True).pk
        ),
        "record": str(
            audit_record_write(
                action="invoice.paid", target_type="invoice", target_id="INV-1", actor=admin
            ).pk
        ),
        "users_upload": str(_upload(user).pk),
        "others_upload": str(_upload(other).pk),
        "attached_upload": str(attached_upload.pk),
        "draft_upload": str(draft_upload.pk),
        "users_spare_key": str(spare_key.pk),
        "users_spare_login": _session_id(token_pair(user).refresh_token),
        "users_job": str(job_create(actor=user, kind="noop").pk),
        "others_job": str(job_create(actor=other, kind="noop").pk),
        "users_finished_job": _finished_job(user),
        "users_dead_job": _dead_job(user),
        "users_webhook": str(_webhook(user)),
        "others_webhook": str(_webhook(other)),
        "users_notification": str(
            notification_create(
                recipient_id=user.pk,
                kind=NotificationKind.COMMENT_ON_POST,
                data={"post": {"id": str(others_post.pk), "title": others_post.title}},
            ).pk
        ),
    }
    return World(
        headers={
            "anonymous": {},
            "guest": {"HTTP_AUTHORIZATION": f"Bearer {token_pair(guest).access_token}"},
            "user": {"HTTP_AUTHORIZATION": f"Bearer {token_pair(user).access_token}"},
            "admin": {"HTTP_AUTHORIZATION": f"Bearer {token_pair(admin).access_token}"},
            "user_key": {"HTTP_X_API_KEY": user_secret},
            "admin_key": {"HTTP_X_API_KEY": admin_secret},
        },
        ids=ids,
        other=other,
        verification_token=email_verification_token_make(guest),
        reset_token=password_reset_token_make(other),
        others_refresh_token=token_pair(other).refresh_token,
    )


def _finished_job(owner: User) -> str:
    """A job of `owner` that succeeded with a result file, run here as a worker would."""
    job = job_create(actor=owner, kind="echo", params={"text": "Grüße, 李雷 🚀"})
    assert job_run(job_id=str(job.pk), worker="permission-matrix") == "succeeded"
    return str(job.pk)


def _dead_job(owner: User) -> str:
    """A job of `owner` that used up its attempts (a dead letter)."""
    job = job_create(actor=owner, kind="broken")
    while job_run(job_id=str(job.pk), worker="permission-matrix") != "dead":
        Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    return str(job.pk)


def _webhook(owner: User) -> Any:
    endpoint, _ = webhook_endpoint_create(actor=owner, url=WEBHOOK_URL, events=["notification"])
    return endpoint.pk


def _upload(owner: User) -> Upload:
    """An image upload of `owner`, with a stored 256 px thumbnail."""
    image = io.BytesIO()
    Image.new("RGB", (3, 2), (200, 30, 60)).save(image, format="PNG")
    upload = upload_create(actor=owner, name="Straße.png", data=image.getvalue())
    name = default_storage.save(f"uploads/thumbnails/{upload.pk}-256.webp", ContentFile(b"webp"))
    Upload.objects.filter(pk=upload.pk).update(thumbnails={"256": name})
    return upload


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Built once for the module, in a transaction rolled back after its last test; every
    cell's own `db` transaction is a savepoint inside it. Stored files go to a directory of
    the module's own. The AI assistant's provider is a local fake one."""
    files = tmp_path_factory.mktemp("permission-matrix-files")
    storage = override_settings(
        MEDIA_ROOT=files / "media",
        UPLOAD_PARTIAL_DIR=files / "partial",
        WEBHOOK_ALLOWED_NETWORKS=["127.0.0.2/32"],
    )
    with (
        FakeOpenAI() as provider,
        override_settings(OPENAI_BASE_URL=provider.url),
        storage,
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        yield _world_build()
        transaction.set_rollback(True)


# --- the tests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> APIClient:
    """One client for every cell: a new one loads the middleware again, and WhiteNoise's
    static file scan then costs ten times the request (measured: 29 ms against 2.4 ms)."""
    return APIClient()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "caller"),
    [(row, caller) for row in MATRIX for caller in CALLERS],
    ids=[f"{_row_id(row)} | {caller}" for row in MATRIX for caller in CALLERS],
)
def test_cell(world: World, client: APIClient, row: tuple[Any, ...], caller: str) -> None:
    method, path, target, *cells = row
    expected = _expected(cells[CALLERS.index(caller)])
    target_id = world.ids[target] if target else ""
    url = API + re.sub(r"\{(\w+)\}", lambda name: PATH_VALUES.get(name[1], target_id), path)
    make_payload = PAYLOADS.get((method, path))
    payload = make_payload(world, target_id) if make_payload is not None else None
    client.cookies.clear()  # a cell's only credential is its caller's header

    response = client.generic(method, url, **_request(method, payload), **world.headers[caller])

    got = _answer(response)
    assert got == expected, (
        f"red cell: {_row_id(row)} | {caller}: expected {expected}, got {got}\n"
        f"{getattr(response, 'content', b'')[:400]!r}"
    )


def test_every_routed_operation_has_a_row() -> None:
    routed = set(_routed_operations())
    tabled = {(method, path) for method, path, *_ in MATRIX}

    without_row = sorted(routed - tabled)
    not_routed = sorted(tabled - routed)
    assert without_row == [], f"routed under {API} but no row in MATRIX: {without_row}"
    assert not_routed == [], f"rows in MATRIX for operations that are not routed: {not_routed}"


@pytest.mark.django_db
def test_every_row_has_a_cell_per_caller_and_a_target_that_exists(world: World) -> None:
    bad = [
        _row_id(row)
        for row in MATRIX
        if len(row) != 3 + len(CALLERS) or (row[2] and row[2] not in world.ids)
    ]
    stray_payloads = set(PAYLOADS) - {(method, path) for method, path, *_ in MATRIX}

    assert bad == []
    assert stray_payloads == set()


@pytest.mark.django_db
def test_every_answer_in_the_table_is_documented_for_its_operation(client: APIClient) -> None:
    """Clients learn the rules from the OpenAPI document: it lists every status of the row."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    documented = {
        (method.upper(), _unnamed(path)): set(operation.get("responses", {}))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }

    undocumented = sorted(
        f"{_row_id(row)}: {_expected(cell).split()[0]}"
        for row in MATRIX
        for cell in row[3:]
        if _expected(cell).split()[0] not in documented.get((row[0], _unnamed(API + row[1])), ())
    )
    assert undocumented == [], "answers in MATRIX missing from the operation's OpenAPI responses"


# --- helpers --------------------------------------------------------------------------------


def _unnamed(path: str) -> str:
    """The path with its parameters unnamed: the schema calls `{pk}` `{id}`."""
    return re.sub(r"\{\w+\}", "{}", path)


def _request(method: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    """`APIClient.generic` keywords: a JSON body (multipart when it holds a file), or for a GET
    the payload as the query."""
    if payload is None:
        return {}
    if method == "GET":
        return {"QUERY_STRING": urlencode(payload)}
    if any(isinstance(value, SimpleUploadedFile) for value in payload.values()):
        return {"data": encode_multipart(BOUNDARY, payload), "content_type": MULTIPART_CONTENT}
    return {"data": json.dumps(payload), "content_type": "application/json"}


def _routed_operations() -> Iterator[tuple[str, str]]:
    """(METHOD, path under /api/v1 with `{name}` placeholders) for every routed operation."""
    for regex, pattern in _patterns(get_resolver().url_patterns, ""):
        if not regex.startswith("^api/v1/"):
            continue
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", regex.removeprefix("^api/v1/"))
        path = "/" + path.replace("^", "").removesuffix("$").removesuffix("/?")
        assert not re.search(r"[\\()\[\]*+?$^|]", path), f"cannot read the route {regex!r}"
        for method in _methods(pattern.callback):
            yield method, path


def _patterns(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _methods(view: Any) -> list[str]:
    """The HTTP methods a routed view answers (OPTIONS and HEAD aside)."""
    # A viewset route's `actions` (DRF adds `head` to it on the first GET).
    methods = getattr(view, "actions", None)
    if not methods:
        view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
        assert view_class is not None, f"cannot tell which methods {view!r} answers"
        methods = [name for name in view_class.http_method_names if hasattr(view_class, name)]
    return [method.upper() for method in methods if method not in ("options", "head")]
