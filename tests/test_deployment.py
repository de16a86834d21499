"""Deployment: production settings, docker-compose.yml, the Dockerfile, the database role.

Production settings are imported in a subprocess with a clean, production-like environment
(never the test process's own environment, which points at the embedded servers), so what is
checked is exactly what a production process would see.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
APP_SERVICES = ("web", "worker", "beat")

#: Variables compose may set for the app containers that are not read through config.env.
READ_OUTSIDE_SETTINGS = {
    # Chooses the settings module; read by Django (manage.py, wsgi.py) and Celery
    # (config/celery.py) before any setting exists.
    "DJANGO_SETTINGS_MODULE": "selects the settings module",
}

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?[-?][^}]*)?\}")


def _database_url_of_test_settings() -> str:
    database = settings.DATABASES["default"]
    return f"postgresql://{database['USER']}@/{database['NAME']}?host={database['HOST']}"


def production_environment(**overrides: str) -> dict[str, str]:
    """A production-like environment: only what a production process would be given."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": _database_url_of_test_settings(),
        "REDIS_URL": settings.REDIS_URL,
        "APP_DOMAIN": "example.com",
        "S3_BUCKET": "shopsafe-private",
        "S3_ENDPOINT_URL": "https://s3.example.com",
        "S3_ACCESS_KEY_ID": "access-key-id",
        "S3_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "POSTMARK_TOKEN": secrets.token_urlsafe(20),
        "TOTP_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_CHAIN_KEYS": "prod-1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "AUDIT_CHAIN_KEY_ID": "prod-1",
        "AUDIT_ANCHOR_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    environment.update(overrides)
    return {name: value for name, value in environment.items() if value is not None}


def run_python(code: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our interpreter, fixed code
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def resolved(value: str) -> str:
    """Compose interpolation with made-up values for the variables the operator must set."""
    text = str(value).replace("$$", "\0")
    text = _INTERPOLATION.sub(lambda match: f"value-of-{match['name'].lower()}", text)
    return text.replace("\0", "$")


# --- Production settings -------------------------------------------------------------------


def test_production_settings_pass_django_deploy_checks():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=production_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    "variable",
    [
        "DJANGO_SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "TOTP_ENCRYPTION_KEYS",
        "AUDIT_CHAIN_KEYS",
        "AUDIT_CHAIN_KEY_ID",
        "AUDIT_ANCHOR_SIGNING_KEY",
        "APP_DOMAIN",
        "S3_BUCKET",
        "POSTMARK_TOKEN",
    ],
)
def test_production_start_up_stops_naming_a_missing_required_variable(variable):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_ROOT,
        env=production_environment(**{variable: None}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert (
        f"ImproperlyConfigured: The environment variable {variable} is required and is not set."
        in result.stderr
    )


def test_production_cookies_are_host_only_secure_and_https_only():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'session': [s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_DOMAIN],"
        "'csrf': [s.CSRF_COOKIE_NAME, s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_DOMAIN],"
        "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'scheme': s.APP_SCHEME,"
        "'port': s.APP_PORT, 'storage': s.STORAGES['private']['BACKEND']}))"
    )
    result = run_python(code, production_environment())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "session": ["__Host-sessionid", True, None],
        "csrf": ["__Host-csrftoken", True, None],
        "debug": False,
        "hosts": ["example.com", ".example.com"],
        "scheme": "https",
        "port": "",
        "storage": "storages.backends.s3.S3Storage",
    }


# --- Encrypted connections in production ---------------------------------------------------

TCP_DATABASE = "postgresql://shopapp:db-password-123@db.internal:5432/shop"
TCP_OWNER = "postgresql://shopowner:owner-password-456@db.internal:5432/shop"
SETTINGS_REPORT = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'database': s.DATABASES['default']['OPTIONS'],"
    "'broker_ssl': str(getattr(s, 'CELERY_BROKER_USE_SSL', None))}))"
)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"DATABASE_URL": TCP_DATABASE}, "DATABASE_URL"),
        ({"DATABASE_URL": TCP_DATABASE + "?sslmode=prefer"}, "DATABASE_URL"),
        ({"DATABASE_URL": TCP_DATABASE + "?sslmode=require"}, "DATABASE_URL"),
        (
            {
                "DATABASE_URL": TCP_DATABASE + "?sslmode=disable",
                "DATABASE_TLS_PRIVATE_NETWORK": "1",
            },
            "DATABASE_URL",
        ),
        (
            {
                "DATABASE_URL": TCP_DATABASE + "?sslmode=verify-full",
                "DATABASE_OWNER_URL": TCP_OWNER + "?sslmode=allow",
            },
            "DATABASE_OWNER_URL",
        ),
        ({"REDIS_URL": "redis://:redis-password-789@cache.internal:6379/0"}, "REDIS_URL"),
        ({"REDIS_URL": "rediss://cache.internal:6380/0?ssl_cert_reqs=none"}, "REDIS_URL"),
    ],
)
def test_production_refuses_an_unencrypted_connection_naming_the_variable(overrides, variable):
    result = run_python(SETTINGS_REPORT, production_environment(**overrides))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable} must be encrypted" in result.stderr
    for secret in ("db-password-123", "owner-password-456", "redis-password-789"):
        assert secret not in result.stderr


def test_production_accepts_a_verified_database_connection_and_a_tls_redis():
    result = run_python(
        SETTINGS_REPORT,
        production_environment(
            DATABASE_URL=TCP_DATABASE + "?sslmode=verify-full&sslrootcert=system",
            DATABASE_OWNER_URL=TCP_OWNER + "?sslmode=verify-full&sslrootcert=system",
            REDIS_URL="rediss://cache.internal:6380/0",
        ),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["database"] == {"sslmode": "verify-full", "sslrootcert": "system"}
    # kombu would otherwise connect to rediss:// without checking the certificate.
    assert report["broker_ssl"] == "{'ssl_cert_reqs': <VerifyMode.CERT_REQUIRED: 2>}"


def test_production_accepts_unverified_tls_and_plain_redis_on_a_declared_private_network():
    result = run_python(
        SETTINGS_REPORT,
        production_environment(
            DATABASE_URL=TCP_DATABASE + "?sslmode=require",
            DATABASE_TLS_PRIVATE_NETWORK="1",
            REDIS_URL="redis://cache.internal:6379/0",
            REDIS_TLS_PRIVATE_NETWORK="1",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"database": {"sslmode": "require"}, "broker_ssl": "None"}


def test_production_accepts_unix_sockets_which_never_leave_the_machine():
    # production_environment() points at the test servers' sockets.
    assert "?host=/" in production_environment()["DATABASE_URL"]
    assert production_environment()["REDIS_URL"].startswith("unix://")
    result = run_python(SETTINGS_REPORT, production_environment())
    assert result.returncode == 0, result.stderr


def test_compose_declares_its_private_network_and_encrypts_postgres_anyway():
    environment = app_environment("web")
    assert environment["DATABASE_TLS_PRIVATE_NETWORK"] == "1"
    assert environment["REDIS_TLS_PRIVATE_NETWORK"] == "1"
    assert environment["DATABASE_URL"].endswith("?sslmode=require")
    owner = {k: str(v) for k, v in load_compose()["services"]["migrate"]["environment"].items()}
    assert owner["DATABASE_OWNER_URL"].endswith("?sslmode=require")
    command = " ".join(load_compose()["services"]["postgres"]["command"])
    assert "ssl=on" in command


# --- Development settings (`make run`) ------------------------------------------------------


def development_environment(**overrides: str) -> dict[str, str]:
    """What `make run`'s web process sees, pointed at the test database and Redis."""
    environment = production_environment(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        APP_DOMAIN=None,
        S3_BUCKET=None,
        S3_ENDPOINT_URL=None,
        S3_ACCESS_KEY_ID=None,
        S3_SECRET_ACCESS_KEY=None,
        POSTMARK_TOKEN=None,
        CACHE_KEY_PREFIX=f"test-{os.getpid()}-development",
    )
    environment.update(overrides)
    return {name: value for name, value in environment.items() if value is not None}


_DEVELOPMENT_PAGES = (
    "import django, json; django.setup(); from django.test import Client;"
    "from django.conf import settings;"
    "client = Client(HTTP_HOST='localhost');"
    "page, css, missing = (client.get(p) for p in ('/', '/static/css/app.css', '/nothing/'));"
    "print(json.dumps({'debug': settings.DEBUG, 'page': page.status_code,"
    " 'links_css': b'href=\"/static/css/app.css\"' in page.content,"
    " 'css': [css.status_code, css['Content-Type']],"
    " 'missing': [missing.status_code, b'URLconf' in missing.content,"
    "  b'Page not found' in missing.content]}))"
)


@pytest.mark.django_db
def test_make_run_serves_styled_pages_with_debug_off_unless_the_developer_opts_in():
    result = run_python(_DEVELOPMENT_PAGES, development_environment())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "debug": False,
        "page": 200,
        "links_css": True,
        "css": [200, 'text/css; charset="utf-8"'],
        "missing": [404, False, True],
    }
    opted_in = run_python(
        "from django.conf import settings; print(settings.DEBUG)",
        development_environment(DJANGO_DEBUG="1"),
    )
    assert opted_in.returncode == 0, opted_in.stderr
    assert opted_in.stdout.strip() == "True"


# --- The database role ---------------------------------------------------------------------


@pytest.mark.django_db
def test_application_database_role_is_neither_superuser_nor_bypassrls():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolname, rolsuper, rolbypassrls, rolcreatedb FROM pg_roles"
            " WHERE rolname = current_user"
        )
        name, is_superuser, bypasses_rls, can_create_databases = cursor.fetchone()
    assert name == settings.DATABASES["default"]["USER"]
    assert is_superuser is False
    assert bypasses_rls is False
    # The runtime role creates nothing; the owner role creates the test database instead.
    assert can_create_databases is False


@pytest.mark.django_db
def test_owner_database_role_has_createdb_but_is_neither_superuser_nor_bypassrls():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolcreatedb FROM pg_roles WHERE rolname = %s",
            [settings.DATABASES["owner"]["USER"]],
        )
        assert cursor.fetchone() == (False, False, True)


# --- docker-compose.yml --------------------------------------------------------------------


def app_environment(service: str) -> dict[str, str]:
    return {
        name: str(value)
        for name, value in load_compose()["services"][service]["environment"].items()
    }


def test_compose_declares_the_whole_stack():
    services = load_compose()["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "minio",
        "minio-create-bucket",
        "mailpit",
        "migrate",
        "web",
        "worker",
        "owner-worker",
        "beat",
    }
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["minio"]["image"].startswith("minio/minio:")
    assert services["minio-create-bucket"]["image"].startswith("minio/mc:")
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_compose_app_services_run_the_image_with_production_settings():
    services = load_compose()["services"]
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
        assert app_environment(name)["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    # Migrations run as the owner in the one-shot migrate job, before web, worker and beat.
    migrate_command = " ".join(services["migrate"]["command"])
    assert "manage.py migrate_schemas --noinput" in migrate_command
    assert "manage.py ready_spares_fill" in migrate_command
    assert "migrate_schemas" not in " ".join(services["web"]["command"])
    for name in APP_SERVICES:
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    # The image runs as a non-root user, so beat's schedule file lives outside /app.
    assert "--schedule=/tmp/celerybeat-schedule" in services["beat"]["command"]


def test_compose_app_connects_as_the_non_superuser_role_the_init_script_creates():
    services = load_compose()["services"]
    postgres = services["postgres"]
    database_url = resolved(app_environment("web")["DATABASE_URL"])
    role = re.match(r"postgresql://([^:@]+)", database_url).group(1)
    assert role == postgres["environment"]["APP_DB_USER"] != "postgres"
    database = "@postgres:5432/" + postgres["environment"]["APP_DB_NAME"]
    assert database_url.endswith(database + "?sslmode=require")
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in postgres["volumes"]}
    init_script = PROJECT_ROOT / mounts["/docker-entrypoint-initdb.d/10-app-role.sh"]
    script = init_script.read_text()
    assert (
        'CREATE ROLE :"app_role" LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'
        in script
    )
    assert 'CREATE ROLE :"owner_role" LOGIN CREATEDB CREATEROLE NOSUPERUSER NOBYPASSRLS' in script
    assert 'CREATE DATABASE :"app_database" OWNER :"owner_role"' in script
    assert os.access(init_script, os.X_OK)


def test_compose_gives_the_owner_url_only_to_the_migrate_job_and_the_owner_worker():
    services = load_compose()["services"]
    postgres = services["postgres"]["environment"]
    holders = {
        name
        for name, service in services.items()
        if "DATABASE_OWNER_URL" in (service.get("environment") or {})
    }
    assert holders == {"migrate", "owner-worker"}
    for name in holders:
        environment = {key: str(value) for key, value in services[name]["environment"].items()}
        owner_url = resolved(environment["DATABASE_OWNER_URL"])
        assert re.match(r"postgresql://([^:@]+)", owner_url).group(1) == postgres["APP_OWNER_USER"]
        runtime_url = resolved(environment["DATABASE_URL"])
        assert re.match(r"postgresql://([^:@]+)", runtime_url).group(1) == postgres["APP_DB_USER"]
    assert postgres["APP_OWNER_USER"] != postgres["APP_DB_USER"]
    assert "--queues=owner" in services["owner-worker"]["command"]


def test_compose_bucket_job_creates_the_bucket_the_app_uses():
    services = load_compose()["services"]
    job = services["minio-create-bucket"]
    bucket = app_environment("web")["S3_BUCKET"]
    assert f"mc mb --ignore-existing local/{bucket}" in " ".join(job["command"])
    assert job["restart"] == "no"
    assert services["web"]["depends_on"]["minio-create-bucket"]["condition"] == (
        "service_completed_successfully"
    )


def test_compose_secrets_have_no_default_values():
    services = load_compose()["services"]
    environments = [app_environment(name) for name in APP_SERVICES]
    environments += [services["postgres"]["environment"], services["minio"]["environment"]]
    for environment in environments:
        for name, value in environment.items():
            if re.search(r"SECRET|PASSWORD|TOKEN|ENCRYPTION", name):
                assert re.search(r"\$\{\w+:\?[^}]+\}", str(value)), f"{name} has a default"


def test_every_variable_compose_sets_for_the_app_is_read_by_the_settings():
    compose_variables = set().union(*(app_environment(name) for name in APP_SERVICES))
    environment = {name: resolved(value) for name, value in app_environment("web").items()}
    environment["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    code = (
        "import json; from django.conf import settings; settings.INSTALLED_APPS; "
        "from config.env import READ_VARIABLES; "
        "print(json.dumps({'read': sorted(READ_VARIABLES), 'scheme': settings.APP_SCHEME,"
        " 'redirect': settings.SECURE_SSL_REDIRECT, 'email': settings.EMAIL_BACKEND}))"
    )
    result = run_python(code, environment)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    unread = compose_variables - set(report["read"]) - set(READ_OUTSIDE_SETTINGS)
    assert unread == set(), f"docker-compose.yml sets variables nothing reads: {sorted(unread)}"
    # The development-only overrides really take effect (read, not shadowed by production.py).
    assert report["scheme"] == "http"
    assert report["redirect"] is False
    assert report["email"] == "django.core.mail.backends.smtp.EmailBackend"


def test_dockerfile_builds_a_locked_non_root_gunicorn_image():
    dockerfile = DOCKERFILE.read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE) == ["python:3.11-slim"]
    # Neither dev tools nor the embedded PostgreSQL/Redis go into the production image.
    assert "uv sync --frozen --no-default-groups" in dockerfile
    assert "--group" not in dockerfile
    assert '"gunicorn", "config.wsgi"' in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
