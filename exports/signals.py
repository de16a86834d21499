"""Celery signal handlers of the export app (connected in ``ExportsConfig.ready``).

A worker that starts removes the export scratch folders that killed workers on this machine
left behind (``exports.scratch.scratch_sweep``: only folders whose build holds no lock, so it
is safe beside other workers' running builds). Without it, a killed build's archive would
stay on disk until the next export on the machine.
"""

from __future__ import annotations

import logging

from celery.signals import worker_ready

from .scratch import scratch_sweep

logger = logging.getLogger("exports")


@worker_ready.connect(dispatch_uid="exports.scratch_sweep_at_worker_start")
def scratch_sweep_at_worker_start(**_kwargs) -> None:
    try:
        scratch_sweep()
    except Exception:  # a full or read-only disk must not keep the worker from starting
        logger.exception("could not sweep the export scratch folder at worker start")
