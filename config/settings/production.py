"""Production: every secret from the environment with no default; TLS everywhere.

A missing required variable stops start-up with ImproperlyConfigured naming it
(``config.env.env``), so a forgotten secret can never fall back to a development value. So
does a database or Redis connection that would travel unencrypted (see "Encrypted
connections" below): the message names the variable, never its value.
"""

import ssl
from urllib.parse import parse_qs, urlparse

from django.core.exceptions import ImproperlyConfigured

from config.env import env

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")

# The public site's domain must be stated; base.py's "localhost" default is for development.
APP_DOMAIN = env("APP_DOMAIN")
ALLOWED_HOSTS = [APP_DOMAIN, f".{APP_DOMAIN}"]
APP_SCHEME = env("APP_SCHEME", "https")
# Links in emails and redirects use the standard HTTPS port unless told otherwise.
APP_PORT = env("APP_PORT", "")

# --- TLS is terminated by the load balancer, which sets X-Forwarded-Proto.
SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT", True, bool)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env("SECURE_HSTS_SECONDS", 63072000, int)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The __Host- prefix makes browsers refuse these cookies unless they are Secure, host-only and
# for path /: another workspace's subdomain cannot plant ("toss") a session or CSRF cookie
# for a parent domain that would shadow ours.
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"

# --- Files: web and worker are stateless, so production keeps files in S3-compatible storage
# (base.py configures it when S3_BUCKET is set; here it is required).
S3_BUCKET = env("S3_BUCKET")

# --- Email: Postmark unless another backend is named (docker-compose uses Mailpit via SMTP).
EMAIL_BACKEND = env("EMAIL_BACKEND", "postmarker.django.EmailBackend")
if EMAIL_BACKEND.startswith("postmarker."):
    POSTMARK_TOKEN = env("POSTMARK_TOKEN")
    POSTMARK = {"TOKEN": POSTMARK_TOKEN, "TEST_MODE": False}

# --- Encrypted connections to PostgreSQL and Redis. A connection over the network must be
# encrypted and verify the server's certificate and name: PostgreSQL's sslmode=verify-full,
# Redis's rediss:// (certificate required). Where the operator states that the network is
# private (DATABASE_TLS_PRIVATE_NETWORK=1, REDIS_TLS_PRIVATE_NETWORK=1: docker-compose's own
# network), PostgreSQL may use sslmode=require (encrypted, certificate not checked) and Redis
# plain redis://. A Unix socket never leaves the machine and needs neither.
DATABASE_TLS_PRIVATE_NETWORK = env("DATABASE_TLS_PRIVATE_NETWORK", False, bool)
REDIS_TLS_PRIVATE_NETWORK = env("REDIS_TLS_PRIVATE_NETWORK", False, bool)
_ENCRYPTED_SSLMODES = {"require", "verify-ca", "verify-full"}


def _refuse(variable: str, how: str) -> None:
    raise ImproperlyConfigured(f"{variable} must be encrypted: {how} (README, Configuration).")


def _check_database_tls(variable: str, database: dict) -> None:
    if str(database["HOST"]).startswith("/"):
        return
    sslmode = database["OPTIONS"].get("sslmode", "")
    if sslmode == "verify-full" or (
        DATABASE_TLS_PRIVATE_NETWORK and sslmode in _ENCRYPTED_SSLMODES
    ):
        return
    _refuse(
        variable,
        "add sslmode=verify-full (or sslmode=require with DATABASE_TLS_PRIVATE_NETWORK=1 on a "
        "private network)",
    )


def _check_redis_tls(variable: str, url: str) -> bool:
    """Refuse an unencrypted Redis URL; True when its certificate is to be verified."""
    parsed = urlparse(url)
    cert_reqs = (parse_qs(parsed.query).get("ssl_cert_reqs") or [""])[-1].lower()
    unverified = cert_reqs in {"none", "cert_none"}
    if parsed.scheme == "unix" or REDIS_TLS_PRIVATE_NETWORK:
        return parsed.scheme == "rediss" and not unverified
    if parsed.scheme != "rediss" or unverified:
        _refuse(
            variable,
            "use rediss:// with a verified certificate (or REDIS_TLS_PRIVATE_NETWORK=1 on a "
            "private network)",
        )
    return True


_check_database_tls("DATABASE_URL", DATABASES["default"])  # noqa: F405
if "owner" in DATABASES:  # noqa: F405
    _check_database_tls("DATABASE_OWNER_URL", DATABASES["owner"])  # noqa: F405
# The cache and the Celery broker both use REDIS_URL (base.py).
if _check_redis_tls("REDIS_URL", REDIS_URL):  # noqa: F405
    # kombu would otherwise connect to rediss:// without checking the certificate.
    CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
