"""Production: hardened defaults, and a refusal to start on an unsafe configuration."""

from django.core.exceptions import ImproperlyConfigured

from config.env import env
from config.settings.base import *  # noqa: F403
from config.settings.base import ALLOWED_HOSTS, DEBUG, SIMPLE_JWT
from config.settings.safety import production_problems

# Read again without the development default, so "unset" is reported as such.
SECRET_KEY = env.str("SECRET_KEY", default="")
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)

LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING["handlers"]["default"]["formatter"] = "console" if LOG_FORMAT == "console" else "json"

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers probe health over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health(/.*)?$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Preloading is a per-domain commitment that is hard to undo: an operator opts in explicitly.
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

_problems = production_problems(secret_key=SECRET_KEY, debug=DEBUG, allowed_hosts=ALLOWED_HOSTS)
if _problems:
    raise ImproperlyConfigured(
        "Refusing to start with an unsafe production configuration:\n"
        + "\n".join(f"  - {problem}" for problem in _problems)
    )
