"""The malware scan of a client's upload: off by default, ClamAV's daemon when configured.

``settings.DOCUMENT_UPLOAD_SCANNER`` picks the backend: ``""`` (no scan) or ``"clamd"``
(:class:`ClamdScanner`, which streams the bytes to clamd over its Unix socket,
``settings.CLAMD_SOCKET``, with the INSTREAM command). Tests swap in their own backend class
through :data:`BACKENDS`. A scanner that cannot answer refuses the upload (it never fails
open): the client is told to try again later.
"""

from __future__ import annotations

import socket
import struct
from typing import IO, Protocol

from django.conf import settings

CHUNK_BYTES = 64 * 1024


class ScanUnavailable(Exception):
    """The scanner could not give a verdict."""


class Scanner(Protocol):
    def infected(self, stream: IO[bytes]) -> str | None:
        """The name of what was found, or None when the bytes are clean."""


class ClamdScanner:
    """clamd's INSTREAM protocol: ``zINSTREAM\\0``, then chunks each prefixed by their
    length as a 4-byte big-endian integer, a zero-length chunk, and one reply line:
    ``stream: OK`` or ``stream: <name> FOUND``."""

    def __init__(self, socket_path: str | None = None, timeout: float = 30.0):
        self.socket_path = socket_path or settings.CLAMD_SOCKET
        self.timeout = timeout

    def infected(self, stream: IO[bytes]) -> str | None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(self.timeout)
                connection.connect(self.socket_path)
                connection.sendall(b"zINSTREAM\0")
                stream.seek(0)
                for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
                    connection.sendall(struct.pack("!L", len(chunk)) + chunk)
                connection.sendall(struct.pack("!L", 0))
                reply = b""
                while not reply.endswith(b"\0"):
                    part = connection.recv(4096)
                    if not part:
                        break
                    reply += part
        except OSError as error:
            raise ScanUnavailable(str(error)) from error
        finally:
            stream.seek(0)
        text = reply.rstrip(b"\0").decode("utf-8", "replace").strip()
        if text.endswith("OK"):
            return None
        if text.endswith("FOUND"):
            return text.removeprefix("stream:").removesuffix("FOUND").strip() or "malware"
        raise ScanUnavailable(f"unexpected clamd reply: {text[:100]}")


BACKENDS: dict[str, type] = {"clamd": ClamdScanner}


def scanner() -> Scanner | None:
    """The configured scanner, or None when scanning is off."""
    name = settings.DOCUMENT_UPLOAD_SCANNER
    if not name:
        return None
    return BACKENDS[name]()
