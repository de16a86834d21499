"""How an app plugs into the floors around it: by declaring itself on its ``AppConfig``.

Invariant: no lower floor names a business app, not even as a string. Where a lower floor
needs something only a business app knows (which of its models are audited, which company a
customer belongs to, how the demo is seeded, which columns hold file keys, what a freshly
provisioned schema must contain), it asks this module for every app that declared it.

The declarations, each an optional class attribute of an app's ``AppConfig``:

``audited_models``
    ``"__all__"`` or a tuple of model names of this app that django-auditlog records
    (audit.registry). ``not_audited`` maps the names left out to the reason.
``demo_seeder``
    Dotted path of ``seed(*, tenant, staff_users) -> dict[str, int]``, run inside the
    workspace's schema when the demo is seeded (workspace.demo).
``customer_companies``
    Dotted path of an object with ``names(ids)``, ``choices(viewer)`` and ``exists(tenant,
    company_id)``: the companies a customer-role member is bound to (rbac.companies). At most
    one app declares it.
``export_file_key_fields``
    ``{model_name: (field, ...)}``: text columns that hold a private-storage key, whose bytes
    the export carries (exports.format).
``schema_checks``
    Dotted paths of ``check(schema_name) -> str | None`` run on every provisioned schema; a
    string is the problem found (tenants.services).
``account_memberships``
    Dotted path of the object that answers accounts' membership questions (is this user a
    member of that workspace, which workspaces does an email belong to): accounts sits
    below memberships, so it asks rather than imports (accounts.memberships). Exactly one
    app declares it (rbac).
``unsent_task_keeper``
    Dotted path of ``keep(*, task_name, task_id, args, kwargs, options, not_before)``, which
    keeps a task the broker refused so it is sent later (kernel.tasks.QueuedTask). Exactly
    one app declares it (tenants).
``company_records``
    Dotted path of an object with ``counts(company_id) -> {kind: n}``,
    ``capabilities(counts) -> set of capabilities`` and ``delete(*, actor, company_id)``: the
    records of a customer company kept by an app other than the one that owns companies,
    which deleting the company with its records counts, confirms and removes in the same
    transaction (the shop's ``company_delete_with_records``; declared by desk).
``company_files``
    Dotted path of an object with ``add(*, company_id, storage_key, filename, content_type,
    extension, size, sha256) -> id``, ``remove(id) -> bool`` and ``describe(ids) -> {id:
    (name, url)}``: puts bytes another app already stored (and checked) among a customer
    company's files, inside the caller's transaction (docrequests.files: an accepted upload).
    At most one app declares it (shop).
``file_sources``
    Dotted path of an object with ``sources(file_ids) -> {file_id: (label, url)}``: which of
    an app's records a company file came from, for the file pages (shop.selectors;
    declared by docrequests, which keeps the link).
``workspace_restore``
    Dotted path of ``restore(*, tenant, agent, reason) -> Tenant``, the lifecycle transition
    the support console offers; support sits below the lifecycle (support.views). Exactly
    one app declares it (workspace).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import AppConfig, apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def declarations(attribute: str) -> Iterator[tuple[AppConfig, Any]]:
    """(app config, declared value) for every installed app that declares ``attribute``, in
    INSTALLED_APPS order. Dotted-path strings are left as they are; see ``resolve``."""
    for config in apps.get_app_configs():
        value = getattr(config, attribute, None)
        if value is not None:
            yield config, value


def resolve(value: Any) -> Any:
    """A dotted path imported, anything else as it is."""
    return import_string(value) if isinstance(value, str) else value


def declared_callables(attribute: str) -> list[Any]:
    """Every declared dotted path (or tuple of them) for ``attribute``, imported."""
    found = []
    for _, value in declarations(attribute):
        for item in value if isinstance(value, tuple | list) else (value,):
            found.append(resolve(item))
    return found


def declared_one(attribute: str) -> Any | None:
    """The single app's declaration of ``attribute`` (imported), None when no app makes it;
    two apps declaring it is a configuration error."""
    found = list(declarations(attribute))
    if len(found) > 1:
        labels = ", ".join(config.label for config, _ in found)
        raise ImproperlyConfigured(f"only one app may declare {attribute}; found {labels}")
    return resolve(found[0][1]) if found else None
