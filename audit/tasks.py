"""Beat: anchor every audit stream's head (audit/anchoring.py).

Each workspace is read with its tenant set explicitly; one stream's trouble (a broken chain is
refused, and logged by label, never with key material) does not stop the others.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import connection

from .anchoring import audit_stream_anchor, audit_streams
from .anchors import AnchorRefused

logger = logging.getLogger(__name__)


@shared_task(name="audit.tasks.audit_anchor_all")
def audit_anchor_all() -> int:
    anchored = 0
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    for stream in audit_streams(everything=True):
        try:
            with stream.context():
                audit_stream_anchor(stream=stream)
            anchored += 1
        except AnchorRefused as error:
            logger.error("audit anchor refused: %s", error)
        except Exception:
            logger.exception("anchoring the audit stream of %s failed", stream.label)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return anchored
