"""The test suite: fast hashing, captured email, no in-process worker (tests start their own)."""

from config.env import env
from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES, JOB_KINDS, RATE_LIMITS, VAR_DIR

DJANGO_ENV = "test"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests start their own worker; a live server process started by a test turns this on.
EMBEDDED_WORKER = env.bool("EMBEDDED_WORKER", default=False)
WHITENOISE_USE_FINDERS = True
# Files are looked up per request instead of scanned when a handler starts: every test client
# starts one (measured: 49 ms a new client with the scan, 2 ms without).
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Flushes after transactional tests delete rows instead of truncating (config/core/postgresql).
DB_FLUSH_WITH_DELETE = True
LOG_LEVEL = env.str("LOG_LEVEL", default="WARNING").upper()
# Out of reach of the suite; the rate limit tests set their own.
RATE_LIMITS = dict.fromkeys(RATE_LIMITS, "100000/min")

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not SQLite's shared in-memory database: worker threads in the tests write
    # concurrently, which shared-cache memory databases answer with "table is locked".
    # TEST_SQLITE_NAME lets two suites run side by side in one checkout.
    test_name = env.str("TEST_SQLITE_NAME", default="test.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / test_name)}

# The engine's own tests run these kinds (tests/tasks/kinds.py) beside the product's.
JOB_KINDS = [
    *JOB_KINDS,
    *(f"tests.tasks.kinds.{name}" for name in ("NOOP", "STEPS", "FLAKY", "BROKEN", "REFUSED")),
    "tests.tasks.kinds.TALLY",
    "tests.tasks.kinds.ECHO",
]
