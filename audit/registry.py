"""Which models django-auditlog watches: every model of the shop app.

Invariant: every shop model is registered, so each create/update/delete of a shop record
writes an event (with before -> after) through ``AuditEventManager.log_create`` in the same
transaction. Event types come from ``audit.events.RECORD_EVENTS``; a shop model missing there
is still audited under the generic SHOP_RECORD_* codes until it gets its own block.

Only per-instance writes are seen (save(), delete(), cascades). QuerySet.update(),
bulk_create() and bulk_update() send no signals, so shop services must not use them on
audited models, or must record the event themselves.
"""

from __future__ import annotations

from django.apps import apps

AUDITED_APPS = ("shop",)
# Bookkeeping tables that are not business records; each says why it is left out.
NOT_AUDITED = frozenset(
    {
        "shop.numbersequence",  # the document-number counter; the documents are audited
    }
)


def register_audited_models() -> list[str]:
    from auditlog.registry import auditlog

    registered = []
    for app_label in AUDITED_APPS:
        try:
            app_config = apps.get_app_config(app_label)
        except LookupError:
            continue
        for model in app_config.get_models():
            if model._meta.label_lower in NOT_AUDITED:
                continue
            if not auditlog.contains(model):
                # Reverse relations are not columns of this record; auditlog would list them
                # on create/delete as "shop.Contact.None".
                reverse = [
                    f.name for f in model._meta.get_fields() if f.auto_created and not f.concrete
                ]
                auditlog.register(model, exclude_fields=reverse)
            registered.append(model._meta.label_lower)
    return registered
