"""How the accounts authentication classes appear in the OpenAPI document.

Bearer tokens are declared twice: as plain HTTP bearer, and as the OAuth2 password flow so
Swagger UI's "Authorize" button can log in against `auth/token` by itself.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.AccessTokenAuthentication"
    name = ["bearerAuth", "passwordFlow"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {
                "type": "oauth2",
                "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
            },
        ]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
