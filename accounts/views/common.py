"""Small pieces the accounts views share."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.middleware.csrf import get_token
from rest_framework import status
from rest_framework.authentication import CSRFCheck
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tokens import TokenPair
from config.api.throttles import AuthRateThrottle, RoleRateThrottle

# Why the endpoints that answer with tokens or tickets ignore `Idempotency-Key`.
CREDENTIALS_NOT_STORED = (
    "the answer holds credentials, which are never stored, so a retry runs anew."
)


class PublicAuthView(APIView):
    """An auth endpoint anyone may call: no credentials read, the strict `auth` rate limit."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [AuthRateThrottle, RoleRateThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        # Keeps failed logins a 401 (DRF turns a 401 without this header into a 403).
        return 'Bearer realm="api"'


def token_response(
    request: Request, pair: TokenPair, *, cookie_mode: bool, status_code: int = status.HTTP_200_OK
) -> Response:
    """The OAuth2 token response; in browser mode the refresh token travels as a cookie."""
    body: dict[str, object] = {
        "access_token": pair.access_token,
        "token_type": "bearer",  # the OAuth2 token type, not a secret  # nosec B105
        "expires_in": pair.expires_in,
    }
    if not cookie_mode:
        body["refresh_token"] = pair.refresh_token
        return Response(body, status=status_code, headers={"Cache-Control": "no-store"})
    body["csrf_token"] = get_token(request._request)
    response = Response(body, status=status_code, headers={"Cache-Control": "no-store"})
    lifetime: timedelta = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    response.set_cookie(
        settings.REFRESH_COOKIE_NAME,
        pair.refresh_token,
        max_age=int(lifetime.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    return response


def refresh_cookie(request: Request) -> str | None:
    return request.COOKIES.get(settings.REFRESH_COOKIE_NAME) or None


def forget_refresh_cookie(response: Response) -> Response:
    response.delete_cookie(settings.REFRESH_COOKIE_NAME, path="/", samesite="Strict")
    return response


def csrf_enforce(request: Request) -> None:
    """Django's CSRF check, which DRF skips for its views, for cookie-authenticated writes."""
    check = CSRFCheck(lambda _request: None)  # type: ignore[arg-type]
    check.process_request(request._request)
    reason = check.process_view(request._request, None, (), {})
    if reason:
        raise PermissionDenied(f"CSRF check failed: {reason}. Send the X-CSRFToken header.")
