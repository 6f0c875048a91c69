"""`/api/v1/auth/…`: registration, tokens, passwords and WebSocket tickets. Thin: validate,
call a service, shape the answer."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.authentication import session_id_of
from accounts.models import ApiKey
from accounts.serializers import (
    PasswordChangeInputSerializer,
    PasswordResetConfirmInputSerializer,
    PasswordResetInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    StatusOutputSerializer,
    TokenInputSerializer,
    TokenOnlyInputSerializer,
    TokenOutputSerializer,
    UserOutputSerializer,
    WsTicketOutputSerializer,
)
from accounts.views.common import (
    CREDENTIALS_NOT_STORED,
    PublicAuthView,
    csrf_enforce,
    forget_refresh_cookie,
    refresh_cookie,
    token_response,
)
from config.api.idempotency.mixin import IdempotentMixin
from config.api.openapi import error_responses
from config.api.throttles import AuthRateThrottle, RoleRateThrottle

TAG = "auth"
# Example values of the OpenAPI document: shown to readers, never valid credentials.
EXAMPLE_PASSWORD = "correct horse battery staple"  # noqa: S105 (documentation)  # nosec B105
EXAMPLE_NEW_PASSWORD = "an even longer pass phrase"  # noqa: S105 (documentation)  # nosec B105
EXAMPLE_RESET_PASSWORD = "ein neues Passwort für Müller"  # noqa: S105 (documentation)  # nosec B105
EXAMPLE_JWT = "eyJhbGciOiJIUzI1NiIs…"
EXAMPLE_VERIFICATION = "eyJ1Ijoi…"
EXAMPLE_RESET_CODE = "MDE5…"
TOKEN_EXAMPLE = OpenApiExample(
    "Token pair",
    response_only=True,
    value={
        "access_token": EXAMPLE_JWT,
        "refresh_token": EXAMPLE_JWT,
        "token_type": "bearer",  # the OAuth2 token type, not a secret  # nosec B105
        "expires_in": 300,
    },
)


class RegisterView(IdempotentMixin, PublicAuthView):
    @extend_schema(
        tags=[TAG],
        summary="Create an account (verification email follows)",
        description=(
            "Always 202 for a new or an already registered email, so the answer tells nobody "
            "which emails have accounts; the owner of a known email gets a notice instead. A "
            "taken username is a 409. New accounts are `guest` until the email is verified."
        ),
        request=RegisterInputSerializer,
        responses={202: StatusOutputSerializer, **error_responses(400, 409, 429, 503)},
        examples=[
            OpenApiExample(
                "Unicode names",
                request_only=True,
                value={
                    "email": "lei@example.org",
                    "username": "李雷",
                    "password": EXAMPLE_PASSWORD,
                    "display_name": "Lǐ Léi",
                },
            ),
            OpenApiExample("Accepted", response_only=True, value={"status": "verification_sent"}),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_register(**serializer.validated_data)
        return Response({"status": "verification_sent"}, status=status.HTTP_202_ACCEPTED)


class VerifyEmailView(IdempotentMixin, PublicAuthView):
    @extend_schema(
        tags=[TAG],
        summary="Confirm an email address with the emailed token",
        description="Single use. A `guest` becomes a `user`.",
        request=TokenOnlyInputSerializer,
        responses={200: UserOutputSerializer, **error_responses(400, 429, 503)},
        examples=[
            OpenApiExample("Token", request_only=True, value={"token": EXAMPLE_VERIFICATION})
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenOnlyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.email_verify(token=serializer.validated_data["token"])
        return Response(UserOutputSerializer(user).data)


class TokenView(PublicAuthView):
    idempotency_exempt = CREDENTIALS_NOT_STORED

    @extend_schema(
        tags=[TAG],
        summary="Log in (OAuth2 password grant)",
        description=(
            "Form (`application/x-www-form-urlencoded`, as the Swagger *Authorize* button "
            "sends it) or JSON. `username` may be the email. With `cookie: true` the refresh "
            "token is set as an HttpOnly, Secure, SameSite=Strict cookie instead, and "
            "`csrf_token` is returned for the `X-CSRFToken` header of later refreshes.\n\n"
            f"After {settings.LOGIN_FAILURE_LIMIT} failures for one account within "
            f"{settings.LOGIN_FAILURE_WINDOW // 60} minutes every attempt is a 429 "
            "`account_locked` with `Retry-After`, the right password included; parallel "
            "attempts are answered as if made one after the other. After "
            f"{settings.LOGIN_IP_FAILURE_LIMIT} failures from one client address (any "
            "accounts) in that window, every attempt from it is a 429 `rate_limited` with "
            "`Retry-After`, and no account is locked."
        ),
        request={
            "application/json": TokenInputSerializer,
            "application/x-www-form-urlencoded": TokenInputSerializer,
        },
        responses={200: TokenOutputSerializer, **error_responses(400, 401, 429, 503)},
        examples=[
            OpenApiExample(
                "Password grant",
                request_only=True,
                value={
                    "grant_type": "password",
                    "username": "müller",
                    "password": EXAMPLE_PASSWORD,
                },
            ),
            TOKEN_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _, pair = services.login(
            identifier=data["username"],
            password=data["password"],
            cookie_mode=data["cookie"],
        )
        return token_response(request, pair, cookie_mode=data["cookie"])


def _presented_refresh_token(request: Request) -> tuple[str, bool]:
    """The refresh token from the body, else from the cookie (CSRF enforced then)."""
    serializer = RefreshInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    if token := serializer.validated_data.get("refresh_token"):
        return token, False
    if token := refresh_cookie(request):
        csrf_enforce(request)
        return token, True
    raise ValidationError({"refresh_token": ["This field is required."]})


class TokenRefreshView(PublicAuthView):
    idempotency_exempt = CREDENTIALS_NOT_STORED

    @extend_schema(
        tags=[TAG],
        summary="Trade a refresh token for a new pair",
        description=(
            "The presented refresh token dies. Presenting it again later is treated as theft: "
            "401, and the whole login (every token descended from it) is revoked. In browser "
            "mode send no body token: the cookie is read and `X-CSRFToken` is required."
        ),
        request=RefreshInputSerializer,
        responses={200: TokenOutputSerializer, **error_responses(400, 401, 403, 429, 503)},
        examples=[
            OpenApiExample("Refresh", request_only=True, value={"refresh_token": EXAMPLE_JWT}),
            TOKEN_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        token, from_cookie = _presented_refresh_token(request)
        _, pair = services.login_session_refresh(refresh_token=token)
        return token_response(request, pair, cookie_mode=from_cookie)


class LogoutView(IdempotentMixin, PublicAuthView):
    @extend_schema(
        tags=[TAG],
        summary="End the login a refresh token belongs to",
        description="Its refresh token and its access tokens stop working at once.",
        request=RefreshInputSerializer,
        responses={204: None, **error_responses(400, 401, 403, 429, 503)},
        examples=[
            OpenApiExample("Logout", request_only=True, value={"refresh_token": EXAMPLE_JWT})
        ],
    )
    def post(self, request: Request) -> Response:
        token, from_cookie = _presented_refresh_token(request)
        services.login_session_logout(refresh_token=token)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        return forget_refresh_cookie(response) if from_cookie else response


class LogoutAllView(IdempotentMixin, APIView):
    throttle_classes = [AuthRateThrottle, RoleRateThrottle]

    @extend_schema(
        tags=[TAG],
        summary="End every login of the caller",
        description="All refresh and access tokens die; open WebSocket connections close 4401.",
        request=None,
        responses={204: None, **error_responses(401, 429, 503)},
    )
    def post(self, request: Request) -> Response:
        services.login_sessions_revoke(user_id=request.user.pk, reason="logout_all")
        return forget_refresh_cookie(Response(status=status.HTTP_204_NO_CONTENT))


class PasswordResetView(IdempotentMixin, PublicAuthView):
    @extend_schema(
        tags=[TAG],
        summary="Email a password reset link",
        description=(
            "Always 202 with the same body, known email or not; the lookup happens in the "
            "background so the answer also takes the same time."
        ),
        request=PasswordResetInputSerializer,
        responses={202: StatusOutputSerializer, **error_responses(400, 429, 503)},
        examples=[
            OpenApiExample("Request", request_only=True, value={"email": "anna@example.org"}),
            OpenApiExample("Accepted", response_only=True, value={"status": "reset_requested"}),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(email=serializer.validated_data["email"])
        return Response({"status": "reset_requested"}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(IdempotentMixin, PublicAuthView):
    @extend_schema(
        tags=[TAG],
        summary="Set a new password with the emailed token",
        description="Single use, short-lived. Every login of the user ends.",
        request=PasswordResetConfirmInputSerializer,
        responses={200: StatusOutputSerializer, **error_responses(400, 429, 503)},
        examples=[
            OpenApiExample(
                "Confirm",
                request_only=True,
                value={"token": EXAMPLE_RESET_CODE, "new_password": EXAMPLE_RESET_PASSWORD},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response({"status": "password_reset"})


class PasswordChangeView(APIView):
    idempotency_exempt = CREDENTIALS_NOT_STORED
    throttle_classes = [AuthRateThrottle, RoleRateThrottle]

    @extend_schema(
        tags=[TAG],
        summary="Change the caller's password",
        description="Every earlier login of the user ends; the answer is a fresh token pair.",
        request=PasswordChangeInputSerializer,
        responses={200: TokenOutputSerializer, **error_responses(400, 401, 429, 503)},
        examples=[
            OpenApiExample(
                "Change",
                request_only=True,
                value={
                    "old_password": EXAMPLE_PASSWORD,
                    "new_password": EXAMPLE_NEW_PASSWORD,
                },
            ),
            TOKEN_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not request.user.check_password(data["old_password"]):
            raise ValidationError({"old_password": ["The current password is wrong."]})
        pair = services.password_change(
            user=request.user,
            new_password=data["new_password"],
        )
        return token_response(request, pair, cookie_mode=refresh_cookie(request) is not None)


class WsTicketView(APIView):
    idempotency_exempt = CREDENTIALS_NOT_STORED

    @extend_schema(
        tags=[TAG],
        summary="Get a one-time WebSocket ticket",
        description=(
            "Connect with `/ws/v1/?ticket=<ticket>` within `expires_in` seconds; it works once "
            "and ends with the login that asked for it."
        ),
        request=None,
        responses={201: WsTicketOutputSerializer, **error_responses(401, 429)},
        examples=[
            OpenApiExample(
                "Ticket", response_only=True, value={"ticket": "k3Jd…", "expires_in": 30}
            )
        ],
    )
    def post(self, request: Request) -> Response:
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        ticket = services.ws_ticket_issue(
            user=request.user,
            session_id=session_id_of(request),
            api_key_id=api_key.pk if api_key is not None else None,
        )
        return Response(
            {"ticket": ticket, "expires_in": settings.WS_TICKET_MAX_AGE},
            status=status.HTTP_201_CREATED,
        )
