"""Which models django-auditlog watches: the ones each business app declares.

Invariant: every model a business app declares as audited (``audited_models`` on its AppConfig,
kernel.plugins) is registered, so each create/update/delete of such a record writes an event
(with before -> after) through ``AuditEventManager.log_create`` in the same transaction. An app
declares ``"__all__"`` and names the exceptions in ``not_audited`` with the reason. Event types
come from ``audit.events.RECORD_EVENTS``; a model missing there is still audited under the
generic record codes until it gets its own block.

Only per-instance writes are seen (save(), delete(), cascades). QuerySet.update(),
bulk_create() and bulk_update() send no signals, so services must not use them on audited
models, or must record the event themselves.
"""

from __future__ import annotations

from django.db import models

from kernel.plugins import declarations


def audited_models() -> list[type[models.Model]]:
    """Every model some app declared audited, in app order."""
    found: list[type[models.Model]] = []
    for config, declared in declarations("audited_models"):
        excluded = set(getattr(config, "not_audited", None) or {})
        for model in config.get_models():
            name = model._meta.model_name
            if name in excluded:
                continue
            if declared == "__all__" or name in declared:
                found.append(model)
    return found


def not_audited_labels() -> frozenset[str]:
    """``app.model`` labels that their app declared as not audited (bookkeeping tables)."""
    return frozenset(
        f"{config.label}.{name}"
        for config, _ in declarations("audited_models")
        for name in (getattr(config, "not_audited", None) or {})
    )


def register_audited_models() -> list[str]:
    from auditlog.registry import auditlog

    registered = []
    for model in audited_models():
        if not auditlog.contains(model):
            # Reverse relations are not columns of this record; auditlog would list them
            # on create/delete as "shop.Contact.None".
            reverse = [
                f.name for f in model._meta.get_fields() if f.auto_created and not f.concrete
            ]
            auditlog.register(model, exclude_fields=reverse)
        registered.append(model._meta.label_lower)
    return registered
