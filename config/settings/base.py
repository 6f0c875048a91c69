"""Every setting, read from the environment. The per-environment modules only adjust.

No `DATABASE_URL` / `REDIS_URL` gives the embedded default: SQLite, local-memory cache, the
in-process channel layer and an in-process Celery worker on the memory transport. Setting them
switches to PostgreSQL (pooled) and Redis without any change in application code.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from kombu import Queue

from config.env import BASE_DIR, email_settings, env, project_path

AGORA_VERSION = "0.1.0"
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
INSECURE_DEFAULT_SECRET_KEY = "django-insecure-agora-development-key-do-not-use-in-production"  # noqa: S105  # nosec B105

VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_celery_beat",
    "config.apps.ConfigConfig",
    "accounts",
    "content",
    "audits",
    "realtime",
    "tasks",
]

MIDDLEWARE = [
    "config.http.middleware.RequestContextMiddleware",
    "config.http.middleware.RateLimitHeadersMiddleware",
    "config.http.public_cache.PublicResponseStoreMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.http.middleware.ContentSecurityPolicyMiddleware",
    "config.http.middleware.ApiExceptionMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Searched before the apps, so our overrides of third-party templates win.
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "agora.sqlite3",
        }
    }

_database = DATABASES["default"]
if _database["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend plus a gate that refuses at once, instead of waiting DB_POOL_TIMEOUT,
    # while the pool cannot connect (config/core/postgresql/base.py).
    _database["ENGINE"] = "config.core.postgresql"
    # psycopg 3's pool replaces persistent connections (CONN_MAX_AGE must stay 0 with it);
    # health checks validate a connection as it leaves the pool, so a restarted server costs
    # no 500.
    _database["CONN_MAX_AGE"] = 0
    _database["CONN_HEALTH_CHECKS"] = True
    _database.setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=5),
            "pool": {
                "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
                "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
                # How long a request waits for a connection. A healthy pool hands one out at
                # once, or within milliseconds while it opens one (it may hold more connections
                # than a process has threads); a longer wait means the database is gone, and
                # the answer should be a quick 503.
                "timeout": env.float("DB_POOL_TIMEOUT", default=1.0),
                # psycopg_pool retries a failed connection with doubling delays for this long
                # (its default, 5 min, grows the delays to minutes), then gives up until a
                # request asks again: short, so a database that is back is found in seconds.
                "reconnect_timeout": env.float("DB_POOL_RECONNECT_TIMEOUT", default=5.0),
            },
        }
    )
elif _database["ENGINE"] == "django.db.backends.sqlite3":
    _database.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, realtime fan-out, broker ----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.core.redis_cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "agora",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Realtime (/ws/v1/; docs/websocket.md) --------------------------------------------------
# Rooms, presence, history and fan-out live in Redis with REDIS_URL, in this process without.
WS_MAX_CONNECTIONS_PER_USER = env.int("WS_MAX_CONNECTIONS_PER_USER", default=20)
# Frames a connection may send: a sustained rate and a burst (token bucket), then `rate_limited`
# errors, then close 4429 when it goes on for another burst.
WS_RATE_PER_SECOND = env.float("WS_RATE_PER_SECOND", default=20.0)
WS_RATE_BURST = env.int("WS_RATE_BURST", default=50)
# Frames waiting for a slow reader; one more closes it with 1013 (it can resume).
WS_SEND_QUEUE_FRAMES = env.int("WS_SEND_QUEUE_FRAMES", default=1000)
# Events kept per room for `resume` (at least this many; the room's log expires when idle).
WS_HISTORY_EVENTS = env.int("WS_HISTORY_EVENTS", default=1000)
WS_HISTORY_IDLE_SECONDS = env.int("WS_HISTORY_IDLE_SECONDS", default=24 * 3600)
# A server process beats this often; one silent for WS_PROCESS_TIMEOUT_SECONDS is dead and its
# members leave their rooms (the contract allows 60 s from the crash to the `left` frames).
WS_HEARTBEAT_SECONDS = env.float("WS_HEARTBEAT_SECONDS", default=10.0)
WS_PROCESS_TIMEOUT_SECONDS = env.float("WS_PROCESS_TIMEOUT_SECONDS", default=35.0)
# permessage-deflate on WebSocket frames (uvicorn): off by default, see docs/websocket.md.
WS_COMPRESSION = env.bool("WS_COMPRESSION", default=False)
# A client `msg_id` is remembered this long (per user, across reconnects) to de-duplicate retries.
WS_MSG_ID_TTL_SECONDS = env.int("WS_MSG_ID_TTL_SECONDS", default=3600)

# --- Celery ---------------------------------------------------------------------------------
TASK_TIME_LIMIT_SECONDS = env.int("TASK_TIME_LIMIT_SECONDS", default=30 * 60)

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "default"
# Workers read these in this order (queue_order_strategy "priority" below): a high job waits
# behind no normal or low one, and the maintenance tasks and mails on `default` behind no
# job backlog. tasks.services.jobs sends each job to the queue of its priority.
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name) for name in ("jobs.high", "default", "jobs.normal", "jobs.low")
]
# No silent loss: a task is acknowledged only once it ran, and a killed worker gives it back.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = TASK_TIME_LIMIT_SECONDS
CELERY_TASK_SOFT_TIME_LIMIT = TASK_TIME_LIMIT_SECONDS - 60
# A dead broker must not hang a request: bounded connection and publish retries.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any task may run, so an unacknowledged task is not redelivered early.
        "visibility_timeout": TASK_TIME_LIMIT_SECONDS * 2,
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
        "max_retries": 2,
        "queue_order_strategy": "priority",
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.05}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# Tasks ignore their results and there is no result backend: no `celery.backend_cleanup` row.
CELERY_RESULT_EXPIRES = None
# The schedule is django_celery_beat's PeriodicTask rows, edited in the admin. The entries below
# seed them: a row is created from its entry when none of that name exists, and never
# overwritten afterwards, so the admin's edits survive restarts (tasks/beat.py, docs/jobs.md).
CELERY_BEAT_SCHEDULER = "tasks.beat:SeedingDatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "tasks.heartbeat",
        "schedule": env.float("HEARTBEAT_SECONDS", 60.0),
    },
    "login-sessions-purge": {"task": "tasks.login_sessions_purge", "schedule": 24 * 3600.0},
    "idempotency-keys-purge": {"task": "tasks.idempotency_keys_purge", "schedule": 24 * 3600.0},
    "notifications-purge": {"task": "tasks.notifications_purge", "schedule": 24 * 3600.0},
    # Records are normally sealed milliseconds after their commit; this takes any left over.
    "audit-chain-seal": {"task": "tasks.audit_chain_seal", "schedule": 60.0},
    # Chunked uploads idle for 24 h are given up, their partial bytes deleted.
    "upload-sessions-purge": {"task": "tasks.upload_sessions_purge", "schedule": 3600.0},
    "jobs-sweep": {"task": "tasks.jobs_sweep", "schedule": env.float("JOB_SWEEP_SECONDS", 5.0)},
    "job-results-purge": {"task": "tasks.job_results_purge", "schedule": 3600.0},
}
# The in-process worker and beat (threads of the ASGI process) stand in for the separate
# processes when there is no broker to share: the memory transport only exists in-process.
EMBEDDED_WORKER = env.bool("EMBEDDED_WORKER", default=not REDIS_URL)
EMBEDDED_WORKER_CONCURRENCY = env.int("EMBEDDED_WORKER_CONCURRENCY", default=2)

# --- Background jobs (tasks.services.jobs, docs/jobs.md) -------------------------------------
# The kinds this server runs; JOB_EXTRA_KINDS (comma-separated dotted paths) adds more.
JOB_KINDS = [
    "tasks.kinds.export.KIND",
    "tasks.kinds.report.KIND",
    "tasks.kinds.thumbnail.KIND",
    "tasks.kinds.ai_summary.KIND",
    "tasks.kinds.webhook_delivery.KIND",
    *env.list("JOB_EXTRA_KINDS", default=[]),
]
# At most this many of one user's jobs run at once; the others wait their turn.
JOB_USER_CONCURRENCY = env.int("JOB_USER_CONCURRENCY", default=2)
# Caps per kind across every worker, over each kind's own default (`export=4,report=2`).
JOB_KIND_CONCURRENCY = {
    name: int(cap) for name, cap in env.dict("JOB_KIND_CONCURRENCY", default={}).items()
}
# Result files are kept this long (seconds), then purged; the download answers 410.
JOB_RESULT_TTL = env.int("JOB_RESULT_TTL", default=7 * 24 * 3600)
# Where result files go: a key of STORAGES (any django-storages backend by setting).
JOB_RESULT_STORAGE = env.str("JOB_RESULT_STORAGE", default="default")
# An identical request within this window after success answers the same job (API.md).
JOB_DEDUPE_SECONDS = env.int("JOB_DEDUPE_SECONDS", default=600)
# A running job's runner renews its lease every third of this; a lease older than this means
# its worker died, and the sweep runs the job again.
JOB_LEASE_SECONDS = env.float("JOB_LEASE_SECONDS", default=30.0)
# A queued job sent this long ago and still not started is sent again (the broker lost it,
# e.g. a Redis restart without persistence); the claim makes a duplicate harmless.
JOB_REDISPATCH_SECONDS = env.float("JOB_REDISPATCH_SECONDS", default=120.0)

# --- Webhooks (tasks.services.webhooks, docs/webhooks.md) ----------------------------------
# Networks webhook targets may be in although they are private, loopback, link-local or
# reserved (CIDRs, comma-separated); checked when an endpoint is saved and again at each send.
WEBHOOK_ALLOWED_NETWORKS = [
    str(ipaddress.ip_network(cidr.strip(), strict=False))
    for cidr in env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
    if cidr.strip()
]
# A delivery answered with a 2xx within this many seconds (connect to last byte) succeeded.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15.0)
# At most this much of a receiver's answer is read (and the first KiB of it kept in the log).
WEBHOOK_RESPONSE_MAX_BYTES = env.int("WEBHOOK_RESPONSE_MAX_BYTES", default=64 * 1024)
# Seconds before the 1st, 2nd, … retry of a failed delivery (each within ±20 %), then it is
# dead: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Svix's schedule; 8 attempts over ~28 h).
WEBHOOK_RETRY_SCHEDULE = [
    float(delay)
    for delay in env.list(
        "WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"]
    )
]
# An endpoint whose every attempt failed for this long is disabled (its owner re-enables it).
WEBHOOK_DISABLE_AFTER_SECONDS = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", default=5 * 24 * 3600)

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    # Django's bcrypt_sha256 (cost 12), on a bounded pool of low-priority threads.
    "accounts.hashers.PooledBCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Threads per process that hash passwords (0: the process's share of the cores): logins queue
# for them instead of crowding out other requests (accounts/hashers.py).
PASSWORD_HASH_THREADS = env.int("PASSWORD_HASH_THREADS", default=0)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 1024}},
]

# --- Accounts -------------------------------------------------------------------------------
# Emailed links are built from this, never from the request's Host header.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE_SECONDS", default=3 * 24 * 3600)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3600)
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
# Failures from one address across accounts: a 429 `rate_limited`, never a locked account.
# High, because an office or a mobile carrier puts many people behind one address.
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=100)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
# How long a login may wait while the account's other attempts in flight decide whether it
# may be checked (seconds). About one password check in practice; long only when the server is
# saturated with password checks, and a right password should not be turned away for that.
LOGIN_ATTEMPT_WAIT = 30
# A login ends after this however often its refresh token is rotated.
AUTH_SESSION_MAX_AGE = env.int("AUTH_SESSION_MAX_AGE_SECONDS", default=30 * 24 * 3600)
REFRESH_COOKIE_NAME = "__Host-agora-refresh"
WS_TICKET_MAX_AGE = 30
# API keys record their use at most this often, so a busy key is not a write per request.
API_KEY_LAST_USED_RESOLUTION = 60

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.AccessTokenAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's JSONRenderer's bytes, made by orjson (config/api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.JSONParser",
        "config.api.parsers.FormParser",
        "config.api.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.api.openapi.AutoSchema",
    # An `Accept` no renderer matches gets JSON (or the download) rather than a 406.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api.negotiation.FallbackContentNegotiation",
    # Offset pages, or cursor pages with ?cursor= (config/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.ApiPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "config.api.exception_handler.exception_handler",
    # Rates in RATE_LIMITS below; auth views add config.api.throttles.AuthRateThrottle.
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttles.RoleRateThrottle"],
    # `?format=` stays an ordinary query parameter; renderers are chosen by Accept only.
    "URL_FORMAT_OVERRIDE": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# `Idempotency-Key` on POST (config/idempotency.py): how long an answer is replayed, and after
# how long a claim whose request never finished (a killed worker) may be taken over.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
IDEMPOTENCY_CLAIM_TIMEOUT = timedelta(minutes=5)

SIMPLE_JWT = {
    "ALGORITHM": env.str("JWT_ALGORITHM", default="HS256"),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUDIENCE": env.str("JWT_AUDIENCE", default="agora"),
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "UPDATE_LAST_LOGIN": False,
}

# --- Rate limits ----------------------------------------------------------------------------
# Hits per window (N/sec, N/min, N/hour, N/day) per user by role, per client IP for anonymous
# callers and, on the auth endpoints, per client IP ("auth"). Empty: not limited.
RATE_LIMITS = {
    "anon": env.str("RATE_LIMIT_ANON", default="120/min"),
    "guest": env.str("RATE_LIMIT_GUEST", default="240/min"),
    "user": env.str("RATE_LIMIT_USER", default="600/min"),
    "admin": env.str("RATE_LIMIT_ADMIN", default="2400/min"),
    "auth": env.str("RATE_LIMIT_AUTH", default="30/min"),
    # `POST ai/chat`, per user, on top of the role's limit: each answer costs provider tokens.
    "ai": env.str("RATE_LIMIT_AI", default="20/min"),
}
# Reverse proxies (IPs or CIDRs) whose X-Forwarded-For entries are believed (config/client_ip.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

SPECTACULAR_SETTINGS = {
    "TITLE": "Agora API",
    "DESCRIPTION": (
        "REST API of Agora, a community content platform. Request bodies are JSON "
        "(`application/json`); `auth/token` also takes the OAuth2 form encoding, and "
        "`POST uploads` takes a file as `multipart/form-data`. Text fields "
        "refuse control and invisible format characters (Unicode categories Cc, Cf, Cs, Co, "
        "and unassigned code points); their `pattern` lists those of the Basic Multilingual "
        "Plane. Errors always use the envelope "
        '`{"error": {"code", "message", "details", "request_id"}}`.'
    ),
    "VERSION": AGORA_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # The contract is JSON: DRF's form parsers stay on (the OAuth2 token form needs them) but
    # only JSON bodies are documented; `auth/token` names its form encoding itself, and
    # `POST uploads` its multipart body.
    "PARSER_WHITELIST": ["config.api.parsers.JSONParser"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "PostStatusEnum": "content.models.PostStatus",
        "UploadKindEnum": "content.models.UploadKind",
        "UploadContentTypeEnum": "content.sniffing.ALLOWED_TYPE_CHOICES",
        "AuditStatusEnum": "audits.models.AuditStatus",
        "NotificationKindEnum": "realtime.models.NotificationKind",
        # `"all": true`, the only value `POST notifications/read` takes for `all`.
        "MarkAllReadEnum": [(True, True)],
        "HealthStatusEnum": ["ok", "fail"],
        # Three fields are called `role`: a user's, a chat message's and the assistant's.
        "RoleEnum": "accounts.models.Role",
        "ChatRoleEnum": "tasks.services.ai.ROLES",
        "AssistantRoleEnum": [("assistant", "assistant")],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.openapi.document_paths_without_trailing_slash",
        "config.api.openapi.document_rate_limits",
        "config.api.openapi.document_idempotency",
        "config.api.openapi.document_request_failures",
    ],
}

# --- HTTP hardening -------------------------------------------------------------------------
# Largest request body accepted (config/http/body_limit.py refuses more before Django reads it).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=2 * 1024 * 1024)
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_EXPOSE_HEADERS = [
    "X-Request-ID",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-api-key",
    "x-csrftoken",
    "x-request-id",
]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Swagger UI and ReDoc set inline styles; no inline script is allowed anywhere.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Under /api/ and /health a CSRF refusal is the JSON envelope, not Django's HTML page.
CSRF_FAILURE_VIEW = "config.http.envelope.csrf_failure"

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# The JavaScript SDK is served as it is kept, at /static/sdk/agora.js (the /live/ page uses it).
STATICFILES_DIRS = [("sdk", BASE_DIR / "clients" / "js")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Uploads --------------------------------------------------------------------------------

# Stored files (uploads and their thumbnails), through Django's default storage. Served only
# through the API (`uploads/{id}/content`), which checks who may read them: no MEDIA_URL.
MEDIA_ROOT = project_path(env.str("MEDIA_ROOT", default="var/media"))
# Largest upload, in bytes (10 MiB), over HTTP and over the WebSocket alike.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=10 * 2**20)
# The bytes of unfinished chunked (WebSocket) uploads. Every server process must see the same
# directory: with several machines, a shared volume.
UPLOAD_PARTIAL_DIR = project_path(env.str("UPLOAD_PARTIAL_DIR", default="var/uploads-partial"))

# --- AI assistant (tasks.services.ai, docs/ai.md) ---------------------------------------------
# An OpenAI-compatible provider; neither the URL nor the key set means none is configured, and
# `POST ai/chat` and `ai_summary` jobs answer 503.
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="").rstrip("/")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
# Models a client may name in `model`; the default model is always allowed.
OPENAI_ALLOWED_MODELS = env.list("OPENAI_ALLOWED_MODELS", default=[])
# Seconds for one answer in all: every attempt, the backoff between them and the whole stream.
OPENAI_TIMEOUT = env.float("OPENAI_TIMEOUT", default=30.0)
# Characters of all the messages of one request together, and of one reply (longer replies are
# cut there and marked `truncated`).
AI_PROMPT_MAX_CHARS = env.int("AI_PROMPT_MAX_CHARS", default=32_000)
AI_REPLY_MAX_CHARS = env.int("AI_REPLY_MAX_CHARS", default=16_000)

# --- Email ----------------------------------------------------------------------------------
vars().update(email_settings(env.str("EMAIL_URL", default="consolemail://")))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Agora <no-reply@localhost>")
# `sendtestemail` and Django's error mails use this sender.
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Who `manage.py sendtestemail --admins` / `--managers` write to: comma-separated addresses.
ADMINS = [("", address) for address in env.list("ADMINS", default=[])]
MANAGERS = ADMINS
# Seconds an SMTP connection may wait on the server (Django's default waits for ever).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=10)
# A failed send (the mail server down or busy) is retried this many times, after about this
# many seconds, doubling each time (with jitter: half to all of it), at most
# EMAIL_RETRY_MAX_SECONDS.
EMAIL_RETRIES = env.int("EMAIL_RETRIES", default=5)
EMAIL_RETRY_BASE_SECONDS = env.float("EMAIL_RETRY_BASE_SECONDS", default=10.0)
EMAIL_RETRY_MAX_SECONDS = env.float("EMAIL_RETRY_MAX_SECONDS", default=600.0)

# --- Locale ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING_CONFIG = "config.http.logs.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
            },
        },
        "console": {
            "()": "config.http.logs.ConsoleFormatter",
            "fmt": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s%(extras)s",
        },
    },
    "handlers": {
        "default": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in ("json", "console") else "console",
        }
    },
    "root": {"handlers": ["default"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler would print every line a second time, unformatted.
        "django": {"handlers": ["default"], "level": LOG_LEVEL, "propagate": False},
        # Our access log says it all once; Django would repeat every 4xx as a warning.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
        # The OpenAI client's HTTP library logs every request at INFO; agora.ai says what matters.
        "httpx2": {"level": "WARNING"},
    },
}

SENTRY_DSN = env.str("SENTRY_DSN", default="")

# Password of the users `manage.py seed_demo` creates (never loaded in production).
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="agora-demo-password")

if SENTRY_DSN:
    # Django, Celery and error log records (failed job attempts among them): config/sentry.py.
    from config.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=DJANGO_ENV,
        release=AGORA_VERSION,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
