"""Start-up checks: the audit keys parse, so a malformed key stops ``manage.py check`` (and
every deploy) instead of the first audited write. Messages name the variable, never a key."""

from __future__ import annotations

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def audit_keys_check(app_configs, **kwargs) -> list[Error]:
    from .anchors import signing_key
    from .keys import chain_keys, current_key_id

    errors = []
    for check_id, load in (("audit.E001", current_key_id), ("audit.E002", signing_key)):
        try:
            load()
            if load is current_key_id:
                chain_keys()
        except ImproperlyConfigured as error:
            errors.append(Error(str(error), id=check_id))
    return errors
