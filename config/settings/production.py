"""Production: every secret from the environment with no default; TLS everywhere.

A missing required variable stops start-up with ImproperlyConfigured naming it
(``config.env.env``), so a forgotten secret can never fall back to a development value.
"""

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
