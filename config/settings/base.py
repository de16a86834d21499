"""Every setting lives here; local, test and production only override.

All environment access goes through :func:`config.env.env`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from config.env import env, is_set

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env("DJANGO_DEBUG", False, bool)

# --- Hosts: a workspace lives at <slug>.<APP_DOMAIN>; APP_DOMAIN itself is the public site.
APP_DOMAIN = env("APP_DOMAIN", "localhost")
APP_SCHEME = env("APP_SCHEME", "http")
APP_PORT = env("APP_PORT", "8000")
ALLOWED_HOSTS = [APP_DOMAIN, f".{APP_DOMAIN}"]

# --- Services. local.py and test.py fill these from the embedded servers when unset;
# production has no default.
# Two roles (README, "DATABASE_URL"; docs/security-model.md, "Roles"): DATABASE_URL carries
# the RUNTIME role (the `default` alias: web and ordinary workers; owns nothing, no DDL);
# DATABASE_OWNER_URL the OWNER role (the `owner` alias: migrations, provisioning, purge). Only
# processes that run those are given the owner's URL; the web never is.
DATABASE_URL = env("DATABASE_URL")
DATABASE_OWNER_URL = env("DATABASE_OWNER_URL", "")
REDIS_URL = env("REDIS_URL")


def _database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    return {
        "ENGINE": "tenants.postgresql_backend",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": query.pop("host", None) or parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "OPTIONS": query,
        "CONN_MAX_AGE": env("DATABASE_CONN_MAX_AGE", 60, int),
        "CONN_HEALTH_CHECKS": True,
        "ATOMIC_REQUESTS": False,
        # PostgreSQL's catalog cache grows by about 0.18 MB per workspace a connection enters;
        # one that has entered this many is closed at the next request or task boundary
        # (tenants/postgresql_backend; 0 = never). `make bench` (scale) measures it.
        "WORKSPACES_PER_CONNECTION": env("DATABASE_WORKSPACES_PER_CONNECTION", 100, int),
    }


DATABASES = {"default": _database_from_url(DATABASE_URL)}
if DATABASE_OWNER_URL:
    DATABASES["owner"] = _database_from_url(DATABASE_OWNER_URL)
    # The same database under other credentials: in tests it is the default's test database.
    DATABASES["owner"]["TEST"] = {"MIRROR": "default"}
    _where = ("HOST", "PORT", "NAME")
    if any(DATABASES["owner"][key] != DATABASES["default"][key] for key in _where):
        raise ImproperlyConfigured(
            "DATABASE_OWNER_URL must name the same server and database as DATABASE_URL"
        )
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Tenancy (django-tenants, hostname mode). See docs/architecture in design.md.
SHARED_APPS = [
    "django_tenants",
    "tenants",  # before django_tenants' commands so our migrate_schemas wins
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "kernel",
    "accounts",
    "rbac",
    "audit",
    # django-auditlog's machinery (receivers, registry); its LogEntry is swapped for
    # audit.AuditEvent and its migrations are switched off below, so it owns no table.
    "auditlog",
    "support",
    "subprocessors",
    # The status page, health checks and incidents (public schema).
    "incidents",
    "workspace",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "audit",
    "shop",
    "desk",
    "docrequests",
    "exports",
    "api",
]
INSTALLED_APPS = (
    ["tenants"]
    + [app for app in SHARED_APPS if app != "tenants"]
    + [app for app in TENANT_APPS if app not in SHARED_APPS]
)
TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
EXTRA_SET_TENANT_METHOD_PATH = "tenants.hooks.on_set_tenant"
ROOT_URLCONF = "config.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
DEFAULT_NOT_FOUND_TENANT_VIEW = "tenants.views.unknown_workspace"
# Host -> tenant lookups are cached for this long; saves invalidate explicitly.
TENANT_HOST_CACHE_SECONDS = env("TENANT_HOST_CACHE_SECONDS", 300, int)
# ... and each process keeps them this long in memory too, as provisional answers that the
# gate confirms with the tenant row its one statement reads (tenants/selectors.py); 0 = off.
TENANT_HOST_LOCAL_SECONDS = env("TENANT_HOST_LOCAL_SECONDS", 60, int)

MIDDLEWARE = [
    # Outermost, so every response (error pages, the unknown-workspace page, static files)
    # carries a request id and the security headers ("Security headers" below) ...
    "workspace.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kernel.security_headers.SecurityHeadersMiddleware",
    # Under /api/, whatever a layer below answers as an error becomes a problem document.
    "api.middleware.ProblemDocumentMiddleware",
    # ... and static files are served without a tenant lookup (no database, no Redis).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "workspace.middleware.TenantHostMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "workspace.middleware.WorkspaceGateMiddleware",
    # Last, so the gate answers first: a query string, field name or upload name holding a
    # character PostgreSQL cannot store (NUL, a lone surrogate) is a 400 before a view reads it.
    "kernel.middleware.UnstorableInputMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workspace.context_processors.workspace",
                "support.context_processors.support",
                "incidents.context_processors.incident_banner",
            ],
        },
    }
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Audit stream (audit/): django-auditlog writes its field-level entries into our model.
AUDITLOG_LOGENTRY_MODEL = "audit.AuditEvent"
AUDITLOG_STORE_JSON_CHANGES = True  # before/after keep their JSON types (null stays null)
MIGRATION_MODULES = {"auditlog": None}  # the swapped-out auditlog.LogEntry gets no table
# How many reverse proxies of ours sit in front of the app; 0 = trust only REMOTE_ADDR.
AUDIT_TRUSTED_PROXY_COUNT = env("AUDIT_TRUSTED_PROXY_COUNT", 0, int)
AUDIT_PAGE_SIZE = 50
AUDIT_DEFAULT_DAYS = 90
AUDIT_EXPORT_CHUNK_SIZE = 2000  # rows fetched per server-side cursor round trip
# The keyed chain (audit/keys.py): HMAC keys as "KEY_ID:BASE64KEY,..." (32+ bytes each) and the
# id new events use. Old ids stay listed after a rotation so their events keep verifying.
AUDIT_CHAIN_KEYS = env("AUDIT_CHAIN_KEYS")
AUDIT_CHAIN_KEY_ID = env("AUDIT_CHAIN_KEY_ID")
# Ed25519 private key (raw 32 bytes, base64) that signs the anchored digests (audit/anchors.py);
# its public key is published on the security page.
AUDIT_ANCHOR_SIGNING_KEY = env("AUDIT_ANCHOR_SIGNING_KEY")

# --- Accounts
AUTH_USER_MODEL = "accounts.User"
# Django's ModelBackend, with every failed password check costing the same (accounts/backends.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailPasswordBackend"]
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
]
# Rate limits of the public endpoints (accounts/throttle, README "Rate limits"): each rule is
# declared next to its endpoint; this overrides one by name, "<limit>.<per>": (count, seconds)
# for a rate, (free failures, quiet seconds) for the sign-in backoff.
SIGN_UP_WORKSPACES_PER_IP_PER_HOUR = env("SIGN_UP_WORKSPACES_PER_IP_PER_HOUR", 3, int)
RATE_LIMITS: dict[str, tuple[int, int]] = {
    "sign_up_confirm.ip": (SIGN_UP_WORKSPACES_PER_IP_PER_HOUR, 60 * 60),
}
# OWASP's recommended argon2id configuration: m=19 MiB, t=2, p=1 (about 40 verifies per core-second
# here; Django's default m=64 MiB, t=3, p=8 managed 5). Hashes made with other parameters keep
# verifying and are re-hashed with these at the next sign-in (accounts/hashers.py).
ARGON2_TIME_COST = env("ARGON2_TIME_COST", 2, int)
ARGON2_MEMORY_COST_KIB = env("ARGON2_MEMORY_COST_KIB", 19 * 1024, int)
ARGON2_PARALLELISM = env("ARGON2_PARALLELISM", 1, int)
LOGIN_URL = "accounts:sign-in"
# Fernet keys that encrypt TOTP seeds at rest (accounts.twofactor.crypto): comma-separated,
# newest first. New seeds use the first; every listed key still decrypts, so a key rotates by
# prepending its successor (then `manage.py totp_keys_rotate` and dropping the old one).
TOTP_ENCRYPTION_KEYS = env("TOTP_ENCRYPTION_KEYS", cast=list)
# django-otp's drift sync would let one early code move a device's window for good; the window
# stays one step either side of our own clock.
OTP_TOTP_SYNC = False

# Host-only cookies: no SESSION_COOKIE_DOMAIN, so a session at acme. is worthless at globex.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env("SESSION_COOKIE_AGE", 60 * 60 * 12, int)
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Cache and Celery on Redis. Cache keys are tenant-aware.
# Pages keep working from PostgreSQL when Redis is down (README, "When Redis or PostgreSQL is
# down"): the caches turn an unreachable Redis into misses and no-ops, logged once per outage
# (kernel/cache.py). Short socket timeouts, so a Redis that hangs costs a request half a
# second once, after which kernel.outages skips it for a second at a time.
REDIS_SOCKET_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
CACHES = {
    "default": {
        "BACKEND": "kernel.cache.OutageTolerantRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "shop"),
        "OPTIONS": REDIS_SOCKET_OPTIONS,
    },
    # Platform-wide lookups (host -> tenant) whose key must not depend on the schema that
    # happens to be active; a miss falls back to PostgreSQL.
    "lookups": {
        "BACKEND": "kernel.cache.OutageTolerantRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "shop") + "-lookups",
        "OPTIONS": REDIS_SOCKET_OPTIONS,
    },
}


def _celery_url(url: str) -> str:
    # Celery/kombu spell unix sockets redis+socket://.
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CELERY_BROKER_URL = _celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env("CELERY_TASK_ALWAYS_EAGER", False, bool)
# A broker outage: publishing gives up after about a second (kernel.tasks.QueuedTask then keeps
# the task in PostgreSQL, tenants/outbox.py), and workers and beat wait for the broker for as
# long as it takes instead of exiting after 100 attempts (which would end `make run`).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.3,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Owner-side tasks go to their own queue, consumed only by the worker given
# DATABASE_OWNER_URL (docker-compose's owner-worker; make run's owner worker).
CELERY_TASK_ROUTES = {
    "tenants.tasks.ready_spares_refill": {"queue": "owner"},
    # The purge's last step: a purged workspace's schema and role (workspace/lifecycle/).
    "workspace.tasks.purged_schemas_drop": {"queue": "owner"},
}
# How many ready workspace schemas the owner side keeps for sign-up (tenants/roles.py).
READY_SPARES = env("READY_SPARES", 3, int)
CELERY_BEAT_SCHEDULE: dict = {
    # Tasks the broker refused while it was down, sent again from PostgreSQL (tenants/outbox.py).
    "tenants-unsent-tasks-send": {
        "task": "tenants.tasks.unsent_tasks_send",
        "schedule": 60,
    },
    # The pool of ready schemas sign-up renames into place (owner queue, tenants/tasks.py).
    "tenants-ready-spares-refill": {
        "task": "tenants.tasks.ready_spares_refill",
        "schedule": 5 * 60,
    },
    # Purged workspaces' schemas, dropped on the proof of their receipts (owner queue): the
    # purge queues the drop itself; this sweep catches a task lost while the owner was down.
    "workspace-purged-schemas-drop": {
        "task": "workspace.tasks.purged_schemas_drop",
        "schedule": 5 * 60,
    },
    # Owners' notices of sub-processor changes, each emailed once (subprocessors/tasks.py).
    "subprocessors-notices-send": {
        "task": "subprocessors.tasks.subprocessor_notices_send",
        "schedule": 5 * 60,
    },
    # Support access grants that ran out: audited and emailed once (support/tasks.py).
    "support-grants-expire": {
        "task": "support.tasks.support_grants_expire",
        "schedule": 5 * 60,
    },
    # Reminders to clients of document requests about to expire with items missing
    # (docrequests/tasks.py): once per request, every active workspace.
    "docrequests-reminders-send": {
        "task": "docrequests.tasks.document_request_reminders_send",
        "schedule": 60 * 60,
    },
    # Workspace exports (exports/tasks.py): each sweep walks every workspace itself.
    "exports-expire-archives": {
        "task": "exports.tasks.exports_expire_archives",
        "schedule": 60 * 60,
    },
    "exports-recover-stalled": {
        "task": "exports.tasks.exports_recover_stalled",
        "schedule": 2 * 60,
    },
    # The workspace lifecycle (workspace/lifecycle/): warning emails, archive, purge. Daily;
    # idempotent and safe to overlap, and it finishes any purge a crash left half-done.
    # Signed digests of every audit stream's head, anchored in object storage (audit/tasks.py).
    "audit-anchor-all": {
        "task": "audit.tasks.audit_anchor_all",
        "schedule": 60 * 60,
    },
    "tenants-lifecycle-run": {
        "task": "workspace.tasks.lifecycle_run_task",
        "schedule": 24 * 60 * 60,
    },
    # The worker heartbeat the status page reads (incidents/health.py): stale = jobs down.
    "incidents-worker-heartbeat": {
        "task": "incidents.tasks.worker_heartbeat",
        "schedule": 60,
    },
    # Rate-limit counters and sign-up requests long expired (accounts/tasks.py).
    "accounts-expired-rows-purge": {
        "task": "accounts.tasks.expired_rows_purge",
        "schedule": 60 * 60,
    },
}

# --- Files: private by default; S3-compatible when a bucket is configured.
# Where the embedded services and the demo keep their state (config.embedded reads the same
# variable); the demo's password file lives here.
LOCAL_STATE_DIR = Path(env("EMBEDDED_STATE_DIR", str(BASE_DIR / ".local")))
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", str(BASE_DIR / ".local" / "private")))
FILE_UPLOAD_MAX_BYTES = env("FILE_UPLOAD_MAX_BYTES", 25 * 1024 * 1024, int)
# Document requests (docrequests): what one request may take in total, and the malware scan
# of each upload: "" (off, the default) or "clamd" (ClamAV's daemon over its Unix socket,
# Debian's clamav-daemon), docs/security-model.md.
DOCUMENT_REQUEST_TOTAL_MAX_BYTES = env("DOCUMENT_REQUEST_TOTAL_MAX_BYTES", 100 * 1024 * 1024, int)
DOCUMENT_UPLOAD_SCANNER = env("DOCUMENT_UPLOAD_SCANNER", "")
CLAMD_SOCKET = env("CLAMD_SOCKET", "/var/run/clamav/clamd.ctl")
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
SIGNED_FILE_URL_SECONDS = 60
# --- Workspace exports (exports/): archives in STORAGES["private"] under <schema>/exports/.
EXPORT_ARCHIVE_DAYS = 7  # an archive is deleted this long after it was made
EXPORT_CHUNK_SIZE = env("EXPORT_CHUNK_SIZE", 2000, int)  # rows per server-side cursor fetch
EXPORT_MAX_ATTEMPTS = 3  # builds (interrupted or failed) before a job is marked failed
EXPORT_RETRY_DELAY_SECONDS = 60
EXPORT_MAX_RUNTIME_SECONDS = env("EXPORT_MAX_RUNTIME_SECONDS", 6 * 60 * 60, int)
EXPORT_REQUEUE_QUEUED_AFTER_SECONDS = 15 * 60  # a queued job nobody picked up is sent again
EXPORT_EMAIL_LINK_SECONDS = 24 * 60 * 60  # the link in the "export ready" email
EXPORT_PAGE_LINK_SECONDS = 60  # a link minted by the Download button, followed at once
# Local scratch space (a local disk: builds lock their folders with flock); None = the
# system's temporary folder. Archives are built under <it>/shopsafe-export-scratch/.
EXPORT_TEMP_DIR = env("EXPORT_TEMP_DIR", None)
# Every export build on one machine together stays under this; an export that alone needs
# more fails with a message saying so (exports/scratch.py).
EXPORT_SCRATCH_MAX_BYTES = env("EXPORT_SCRATCH_MAX_BYTES", 20 * 1024**3, int)
EXPORT_SCRATCH_RECHECK_BYTES = 64 * 1024**2  # how often a build measures the others again
if is_set("S3_BUCKET"):
    _private_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("S3_BUCKET"),
            "endpoint_url": env("S3_ENDPOINT_URL", None),
            "access_key": env("S3_ACCESS_KEY_ID"),
            "secret_key": env("S3_SECRET_ACCESS_KEY"),
            "region_name": env("S3_REGION", None),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": SIGNED_FILE_URL_SECONDS,
            "file_overwrite": False,
        },
    }
else:
    _private_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # base_url None: files are never served by URL, only through the download view.
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    }
STORAGES = {
    "default": _private_storage,
    "private": _private_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".local" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Status page (incidents/health.py): health check results are reused this long.
STATUS_CHECK_SECONDS = env("STATUS_CHECK_SECONDS", 10, int)

# --- Email: console in development; Postmark in production.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Shopsafe <no-reply@localhost>")
# --- Trust center: where security reports go (security.txt, /security/disclosure/, the
# sub-processor notices), and how far ahead security.txt's Expires is set from each request
# (RFC 9116 asks for less than a year), so it never lapses.
SECURITY_CONTACT_EMAIL = env("SECURITY_CONTACT_EMAIL", f"security@{APP_DOMAIN}")
SECURITY_TXT_EXPIRES_DAYS = env("SECURITY_TXT_EXPIRES_DAYS", 180, int)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env("EMAIL_PORT", 25, int)
POSTMARK_TOKEN = env("POSTMARK_TOKEN", "")
POSTMARK = {"TOKEN": POSTMARK_TOKEN, "TEST_MODE": False}

# --- Security headers that hold everywhere, on every response (kernel/security_headers.py
# says which middleware sets which; tests/security_headers.py is what the crawl checks).
SECURE_CONTENT_TYPE_NOSNIFF = True
# Tokenised links (invitations, password resets, downloads) never leak to another site.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "kernel.errors.csrf_failure"
# No inline script, style or event handler anywhere (tests/test_security_headers.py scans
# every template): scripts and styles are our own static files. img-src allows data: for the
# small SVG images Pico's stylesheet draws (select arrows, check marks); the 2FA QR code is
# inline SVG markup, which no directive governs. form-action gets our own hosts and
# FORM_REDIRECT_ORIGINS added by the middleware.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# The export Download button posts, then redirects to a presigned link of the private bucket.
if is_set("S3_BUCKET"):
    # AWS itself when no endpoint is named (regional, virtual-hosted bucket names included).
    _endpoint = urlparse(env("S3_ENDPOINT_URL", None) or "https://amazonaws.com")
    FORM_REDIRECT_ORIGINS = [
        f"{_endpoint.scheme}://{_endpoint.netloc}",
        f"{_endpoint.scheme}://*.{_endpoint.netloc}",  # bucket.endpoint addressing
    ]
else:
    FORM_REDIRECT_ORIGINS = []
# Browser features no page of ours uses: off, so injected content cannot ask for them either.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "tenants.logging.RequestContextFilter"},
        # One line per refused request, no query strings or link tokens (kernel/logging.py).
        "request_log": {"()": "kernel.logging.RequestLogFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(tenant)s %(request_id)s] %(message)s"
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_context", "request_log"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler would print every record a second time with DEBUG on;
        # its records reach the root's handler like everyone else's.
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}

# --- The "Verify it yourself" page (workspace/verify.py): how long it may spend verifying the
# audit chain on each visit; a longer stream is verified from its start as far as this allows,
# and the page says how far it got.
VERIFY_AUDIT_CHAIN_SECONDS = env("VERIFY_AUDIT_CHAIN_SECONDS", 2.0, float)
