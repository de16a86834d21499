"""`make run`: the whole product on one machine, with nothing installed but Python and make.

Starts (or reuses) the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set,
migrates every schema, seeds the demo workspaces if they are missing, then runs the web
server, a Celery worker and Celery beat as child processes until Ctrl-C (or `make stop`).

Invariant: every child runs in its own session, so the terminal's Ctrl-C reaches only this
process, which then stops the children in order and waits for them; a child that dies on
its own stops the rest, so a half-running stack is never left behind. The embedded servers
outlive this process on purpose (the next `make run` and `make test` reuse them);
``python -m config.devrun stop`` (`make stop`) ends this process and then them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from config import embedded
from config.env import env

PROJECT_ROOT = embedded.PROJECT_ROOT
PID_FILE = embedded.STATE_DIR / "devrun.pid"
BEAT_SCHEDULE_FILE = embedded.STATE_DIR / "celerybeat-schedule"
STOP_GRACE_SECONDS = 10
WEB_START_SECONDS = 60


@dataclass
class Child:
    """One supervised process and how to ask it to stop."""

    name: str
    command: list[str]
    stop_signal: signal.Signals
    # The child's environment; None inherits ours (which holds the owner's URL).
    environment: dict[str, str] | None = None
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> subprocess.Popen:
        """The started process (``_start`` has run; calling this before is a bug)."""
        if self.process is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self.process


def _bind_address() -> str:
    # RUN_HOST=1 (or any true-ish value) means "all interfaces"; an address is used as given.
    raw = env("RUN_HOST", "")
    if not raw:
        return "127.0.0.1"
    return "0.0.0.0" if raw.lower() in {"1", "true", "yes", "on"} else raw  # noqa: S104


def _running_devrun_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"config.devrun" in cmdline else None


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _port_answers(host: str, port: int) -> bool:
    address = "127.0.0.1" if host == "0.0.0.0" else host  # noqa: S104 - comparing, not binding
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def _prepare_database() -> str:
    """Migrate every schema, seed the demo if missing; return the demo password."""
    import django  # Django is set up only after the service URLs are exported.

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from workspace.demo import demo_password

    _say("Migrating the database (public schema, template, every workspace)...")
    call_command("migrate_schemas", interactive=False, verbosity=0)
    call_command("ready_spares_fill", verbosity=0)
    _say("Seeding the demo workspaces if they are missing...")
    password = demo_password()
    call_command("seed_demo", verbosity=0)
    # The children open their own connections; this process keeps none while it supervises.
    connections.close_all()
    return password


def _pump_output(child: Child) -> None:
    stdout = child.running.stdout
    assert stdout is not None  # noqa: S101 - started with stdout=PIPE
    for line in stdout:
        sys.stdout.write(f"{child.name:>6} | {line}")
        sys.stdout.flush()


def _start(child: Child) -> None:
    child.process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        child.command,
        cwd=PROJECT_ROOT,
        env=child.environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    child.reader = threading.Thread(target=_pump_output, args=(child,), daemon=True)
    child.reader.start()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _stop_all(children: list[Child]) -> None:
    running = [c for c in children if c.process is not None and c.process.poll() is None]
    for child in running:
        _signal_group(child.running, child.stop_signal)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in running:
        try:
            child.running.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{child.name} did not stop within {STOP_GRACE_SECONDS}s; killing it.")
            _signal_group(child.running, signal.SIGKILL)
            child.running.wait()
    for child in children:
        if child.process is not None:
            # runserver's autoreloader runs the server in a grandchild of the same group.
            _signal_group(child.process, signal.SIGKILL)
        if child.reader is not None:
            child.reader.join(timeout=2)


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def _banner(*, port: int, password: str) -> str:
    domain = env("APP_DOMAIN", "localhost")
    from docrequests.demo import demo_link_file
    from workspace.demo import DEMO_PASSWORD_FILE, DEMO_WORKSPACES, demo_email

    suffix = "" if port == 80 else f":{port}"
    rows = [("Public site (sign up, find my workspaces)", f"http://{domain}{suffix}/")]
    rows += [
        (f"Demo workspace {name}", f"http://{slug}.{domain}{suffix}/")
        for slug, name in DEMO_WORKSPACES.items()
    ]
    width = max(len(label) for label, _ in rows) + 1
    lines = ["", "=" * 72, "Shopsafe is running.", ""]
    lines += [f"  {label + ':':<{width}}  {url}" for label, url in rows]
    first = next(iter(DEMO_WORKSPACES))
    lines += [
        "",
        "  Demo sign-in, on the workspace's own address:",
        f"    email:    {demo_email(first, 'owner')}   (or admin@, manager@, sales@, designer@,",
        "              installer@, accountant@, employee@ ... of acme.demo or globex.demo)",
        f"    password: {password}",
        f"    (generated for this checkout, kept in {_shown(DEMO_PASSWORD_FILE)})",
        "",
        "  A demo client's document-request link (no account needed; never printed here):",
        f"    in {_shown(demo_link_file(first))}",
        "",
        "  Emails are printed below by the worker. Ctrl-C stops web, the workers and beat;",
        "  `make stop` also stops the embedded PostgreSQL and Redis.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["PYTHONUNBUFFERED"] = "1"
    host = _bind_address()
    port = env("APP_PORT", 8000, int)

    other = _running_devrun_pid()
    if other is not None:
        _say(f"Already running (pid {other}). Stop it with Ctrl-C in its terminal or `make stop`.")
        return 1
    if not _port_is_free(host, port):
        _say(f"Port {port} on {host} is in use by another program; stop it or set APP_PORT.")
        return 1

    stop_requested = threading.Event()

    def request_stop(signum, frame):
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    embedding = not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL")
    if embedding:
        where = _shown(embedded.STATE_DIR)
        _say(f"Starting the embedded PostgreSQL and Redis (data in {where}/)...")
    embedded.export_service_urls()
    password = _prepare_database()

    celery = [sys.executable, "-m", "celery", "-A", "config"]
    # Only the owner's worker is given the owner's URL; web, worker and beat run as the
    # runtime role (docs/security-model.md, "Roles").
    runtime = {k: v for k, v in os.environ.items() if k != "DATABASE_OWNER_URL"}
    children = [
        Child(
            "web",
            [sys.executable, "manage.py", "runserver", f"{host}:{port}"],
            signal.SIGINT,
            runtime,
        ),
        # The solo pool runs one task at a time in the worker process: right for a laptop
        # or a 2-core box, and it keeps one database connection per worker.
        Child(
            "worker",
            [*celery, "worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO"],
            signal.SIGTERM,
            runtime,
        ),
        Child(
            "owner-worker",
            [
                *celery,
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--loglevel=INFO",
                "--queues=owner",
                "--hostname=owner@%h",
            ],
            signal.SIGTERM,
        ),
        Child(
            "beat",
            [*celery, "beat", "--loglevel=INFO", "--schedule", str(BEAT_SCHEDULE_FILE)],
            signal.SIGTERM,
            runtime,
        ),
    ]
    PID_FILE.write_text(str(os.getpid()))
    signal.signal(signal.SIGINT, request_stop)
    exit_code = 0
    try:
        for child in children:
            _start(child)
        web_ready_by = time.monotonic() + WEB_START_SECONDS
        announced = False
        while not stop_requested.wait(0.25):
            failed = [c for c in children if c.running.poll() is not None]
            if failed:
                for child in failed:
                    _say(f"{child.name} exited with status {child.running.returncode}; stopping.")
                exit_code = 1
                break
            if not announced and _port_answers(host, port):
                print(_banner(port=port, password=password), flush=True)
                announced = True
            elif not announced and time.monotonic() > web_ready_by:
                _say(f"The web server did not answer on port {port}; stopping.")
                exit_code = 1
                break
    finally:
        _say("Stopping web, worker and beat...")
        _stop_all(children)
        PID_FILE.unlink(missing_ok=True)
    if embedding:
        _say("Stopped. The embedded PostgreSQL and Redis keep running; `make stop` ends them.")
    else:
        _say("Stopped.")
    return exit_code


def stop() -> int:
    """End a running `make run` (if any), then the embedded PostgreSQL and Redis."""
    pid = _running_devrun_pid()
    if pid is not None:
        _say(f"Stopping `make run` (pid {pid})...")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS + 5
        while _running_devrun_pid() == pid and time.monotonic() < deadline:
            time.sleep(0.2)
    _say("Stopping the embedded PostgreSQL and Redis (if running)...")
    embedded.stop()
    return 0


def main(argv: list[str]) -> int:
    if argv == ["stop"]:
        return stop()
    if argv:
        print("usage: python -m config.devrun [stop]", file=sys.stderr)
        return 2
    return run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
