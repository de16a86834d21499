"""Local scratch space for export archives: one named folder per build, removed on every way
out, swept of what killed workers left, and capped.

Invariants:
- Every build writes inside its own folder ``<root>/<name>/`` and holds an exclusive
  ``flock`` on ``<root>/<name>.lock`` from before the folder exists until after it is gone.
  The kernel drops that lock when the process dies, however it dies (SIGKILL, the OOM killer,
  a power cut), so a folder whose lock nobody holds belongs to a dead build: the sweep
  removes exactly those, never a live build's, however many workers share the root. ``flock``
  does not reach across machines: ``EXPORT_TEMP_DIR`` must be a local disk, not a network
  share.
- Leaving ``scratch_folder`` in any way Python runs code for (return, exception, task
  revocation, soft time limit, SystemExit, KeyboardInterrupt) removes the folder and its
  lock. What a process that died without running Python leaves is removed when a worker
  starts (``exports/signals.py``) and before every build on the machine (``scratch_sweep``).
- Bounded: everything in the root together stays under ``EXPORT_SCRATCH_MAX_BYTES``. A build
  that alone would pass the cap raises ``ScratchTooLarge`` (it can never fit); one that would
  pass it together with other builds running now raises ``ScratchBusy`` (it may fit later).
  Both carry a sentence a workspace owner can read.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from django.conf import settings

logger = logging.getLogger("exports")

ROOT_NAME = "shopsafe-export-scratch"
LOCK_SUFFIX = ".lock"
# What the builds of earlier versions wrote straight into EXPORT_TEMP_DIR.
LEGACY_PREFIX = "export-"
LEGACY_SUFFIX = ".zip.partial"
_LOCK_ATTEMPTS = 50

SCRATCH_TOO_LARGE = (
    "the archive needs more than the {limit} of scratch space this server allows an export"
)
SCRATCH_BUSY = (
    "the server's export scratch space ({limit}) was full with other exports running at "
    "the same time"
)


class ScratchFull(Exception):
    """The scratch space cap was reached; ``str()`` is the reason a person may read."""


class ScratchTooLarge(ScratchFull):
    """This build alone needs more than the cap: trying again cannot help."""


class ScratchBusy(ScratchFull):
    """This build and the others running now need more than the cap: it may fit later."""


def human_size(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def scratch_root() -> Path:
    """The folder that holds every build's scratch folder on this machine."""
    return Path(settings.EXPORT_TEMP_DIR or tempfile.gettempdir()) / ROOT_NAME


def _lock_acquire(path: Path) -> int:
    """Create ``path`` and hold an exclusive flock on it; return the descriptor.

    The sweep may unlink a lock file between our open and our flock (it takes any lock
    nobody holds); holding a lock on an unlinked file protects nothing, so the inode is
    checked after locking and the whole step repeated if the file was replaced."""
    for _ in range(_LOCK_ATTEMPTS):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)  # a sweep holds it for a moment; it will unlink it
            time.sleep(0.01)
            continue
        try:
            same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return descriptor
        os.close(descriptor)
    raise RuntimeError(f"could not lock the export scratch folder {path.name}")


@contextmanager
def scratch_folder(label: str) -> Iterator[Path]:
    """A new, empty folder of this build's own, removed with its lock however the block ends."""
    root = scratch_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{label}-{os.getpid()}-{secrets.token_hex(4)}"
    lock_path = root / f"{name}{LOCK_SUFFIX}"
    folder = root / name
    descriptor = _lock_acquire(lock_path)
    try:
        folder.mkdir(mode=0o700)
        yield folder
    finally:
        try:
            shutil.rmtree(folder, ignore_errors=True)
            with suppress(FileNotFoundError):
                lock_path.unlink()
        finally:
            os.close(descriptor)


def _size_of(path: Path) -> int:
    total = 0
    try:
        entries = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        with suppress(FileNotFoundError):
            if entry.is_dir(follow_symlinks=False):
                total += _size_of(Path(entry.path))
            else:
                total += entry.stat(follow_symlinks=False).st_size
    return total


def scratch_in_use(*, excluding: Path | None = None) -> int:
    """Bytes held in the scratch root now, leaving out ``excluding`` (a build's own folder)."""
    root = scratch_root()
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    total = 0
    for entry in entries:
        if excluding is not None and entry.path == str(excluding):
            continue
        with suppress(FileNotFoundError):
            if entry.is_dir(follow_symlinks=False):
                total += _size_of(Path(entry.path))
            else:
                total += entry.stat(follow_symlinks=False).st_size
    return total


class CappedFile:
    """A scratch file handle that refuses to grow past the scratch cap.

    Every ``EXPORT_SCRATCH_RECHECK_BYTES`` of growth it measures what the other builds hold
    again, so several builds that start together cannot pass the cap between them by much
    more than that step each."""

    def __init__(self, handle: IO[bytes], folder: Path):
        self._handle = handle
        self._folder = folder
        self._limit = settings.EXPORT_SCRATCH_MAX_BYTES
        self._step = settings.EXPORT_SCRATCH_RECHECK_BYTES
        self._others = scratch_in_use(excluding=folder)
        self._size = 0
        self._checked_at = 0

    def write(self, data) -> int:
        end = self._handle.tell() + len(data)
        if end > self._size:
            self._grow_to(end)
        return self._handle.write(data)

    def _grow_to(self, size: int) -> None:
        limit = human_size(self._limit)
        if size > self._limit:
            raise ScratchTooLarge(SCRATCH_TOO_LARGE.format(limit=limit))
        if size - self._checked_at >= self._step:
            self._others = scratch_in_use(excluding=self._folder)
            self._checked_at = size
        if self._others + size > self._limit:
            raise ScratchBusy(SCRATCH_BUSY.format(limit=limit))
        self._size = size

    def __getattr__(self, name):  # seek, tell, flush, seekable...: ZipFile needs them
        return getattr(self._handle, name)


def scratch_sweep() -> list[str]:
    """Remove every scratch folder (and lock) whose build is dead; return their names.

    Safe at any moment on any number of workers: a live build holds its lock, and a lock
    we take here is one nobody holds."""
    root = scratch_root()
    removed = _legacy_partials_sweep(root.parent)
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return removed
    names = {
        entry.name.removesuffix(LOCK_SUFFIX) for entry in entries if not entry.name.startswith(".")
    }
    for name in sorted(names):
        if _remove_if_dead(root, name):
            removed.append(name)
    if removed:
        logger.info("removed %s export scratch folder(s) left by stopped workers", len(removed))
    return removed


def _remove_if_dead(root: Path, name: str) -> bool:
    folder = root / name
    lock_path = root / f"{name}{LOCK_SUFFIX}"
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        # A build creates its lock before its folder and removes it after: a folder without
        # a lock is what a build that finished leaves for an instant, or nobody's.
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            return True
        return False
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live build
        except OSError as error:  # pragma: no cover - a filesystem without flock
            if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP):
                logger.error("EXPORT_TEMP_DIR does not support file locks; not sweeping it")
                return False
            raise
        shutil.rmtree(folder, ignore_errors=True)
        with suppress(FileNotFoundError):
            lock_path.unlink()
        return True
    finally:
        os.close(descriptor)


def _legacy_partials_sweep(folder: Path) -> list[str]:
    """Scratch files of the earlier layout (one flat file, no lock): removed once nobody has
    written to them for longer than an export may run."""
    removed = []
    cutoff = time.time() - settings.EXPORT_MAX_RUNTIME_SECONDS
    for partial in folder.glob(f"{LEGACY_PREFIX}*{LEGACY_SUFFIX}"):
        with suppress(OSError):
            if partial.stat().st_mtime < cutoff:
                partial.unlink()
                removed.append(partial.name)
    return removed
