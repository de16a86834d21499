"""Provisioning workspaces: one schema each, cloned from a migrated template.

Invariant: a workspace schema is created only here. The template schema is brought up to
date before it is cloned, and the clone is verified against the migration graph, so a stale
template can never yield a workspace that silently lacks a migration (django-tenants'
TENANT_CREATION_FAKES_MIGRATIONS would otherwise mark it applied).
"""

from __future__ import annotations

import re
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.models.functions import Lower
from django_tenants.utils import schema_context, schema_exists

from kernel.plugins import declared_callables
from kernel.text import text_fields_check

from .clone import SchemaCloner
from .models import SCHEMA_NAME_TAKEN, Domain, Tenant
from .roles import READY_PREFIX, clone_helpers_lock_down

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_SLUGS = frozenset(
    {
        "www",
        "admin",
        "api",
        "support",
        "public",
        "static",
        "media",
        "mail",
        "email",
        "app",
        "apps",
        "help",
        "status",
        "billing",
        "security",
        "docs",
        "blog",
        "login",
        "signin",
        "signup",
        "account",
        "accounts",
        "auth",
        "sso",
        "dashboard",
        "template",
        "root",
        "system",
        "internal",
        "test",
        "demo-template",
        "localhost",
    }
)
SLUG_INVALID = (
    "Use 3 to 40 lowercase letters, digits or hyphens, starting and ending with a letter or digit."
)
SLUG_RESERVED = "This address is reserved. Please choose another."
SLUG_TAKEN = "This address is already taken. Please choose another."
TEMPLATE_LOCK_KEY = 0x5EED_7E3A  # pg_advisory_xact_lock key serialising template migrations


TEMPLATE_BEHIND = (
    "The workspace template is behind the code: run migrate_schemas with the owner role."
)


def spare_allowed() -> bool:
    """Whether a provisioning may take a ready spare (tests/schema_pool.py narrows it)."""
    return True


class ProvisioningError(RuntimeError):
    """The new schema does not match the migration graph; nothing was committed."""


def slug_normalise(slug: str) -> str:
    """What a person typed as an address, as hosts compare it: lowercase, no outer spaces
    (``Acme`` is ``acme``, so it is refused as taken when ``acme`` exists)."""
    return (slug or "").strip().lower()


def slug_validate(slug: str) -> None:
    """Raise ValidationError with the user-facing message for a bad workspace slug."""
    if not SLUG_PATTERN.match(slug or "") or "--" in slug:
        raise ValidationError(SLUG_INVALID, code="invalid")
    if slug in RESERVED_SLUGS:
        raise ValidationError(SLUG_RESERVED, code="reserved")
    if _slug_taken(slug):
        raise ValidationError(SLUG_TAKEN, code="taken")


def _slug_taken(slug: str) -> bool:
    # One probe of the unique index on lower(slug) (tenants 0009), which also refuses a
    # case-variant duplicate that a concurrent sign-up inserts between this check and ours.
    return Tenant.objects.alias(slug_lower=Lower("slug")).filter(slug_lower=slug.lower()).exists()


UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


def schema_name_for(slug: str) -> str:
    # Slugs never contain "_", so mapping "-" to "_" cannot make two slugs collide.
    return "ws_" + slug.replace("-", "_")


def hostname_for(slug: str) -> str:
    return f"{slug}.{settings.APP_DOMAIN}"


@cache
def _expected_migrations() -> frozenset[tuple[str, str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(loader.graph.nodes)


def _applied_migrations(schema_name: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        # The one schema-qualified read: it inspects a schema that is not the current one.
        cursor.execute("SELECT app, name FROM " + _qualified(schema_name, "django_migrations"))  # noqa: S608
        return set(cursor.fetchall())


def _qualified(schema_name: str, table: str) -> str:
    return f"{connection.ops.quote_name(schema_name)}.{connection.ops.quote_name(table)}"


def schema_is_current(schema_name: str) -> bool:
    """True when every migration in the graph is recorded as applied in ``schema_name``."""
    return _expected_migrations() <= _applied_migrations(schema_name)


def template_ensure_current(*, verbosity: int = 0) -> None:
    """Create or migrate the template schema if it is missing or behind the code."""
    template = settings.TENANT_BASE_SCHEMA
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TEMPLATE_LOCK_KEY])
        connection.set_schema_to_public()
        if not schema_exists(template):
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(template)}")
        elif schema_is_current(template):
            return
    call_command(
        "migrate_schemas",
        tenant=True,
        schema_name=template,
        interactive=False,
        verbosity=verbosity,
        migrate_template=False,
    )
    connection.set_schema_to_public()


def tenant_provision(*, slug: str, name: str) -> Tenant:
    """Create a workspace: row, hostname, and a verified schema cloned from the template.

    Runs inside the caller's transaction when there is one, so a failure later in sign-up
    leaves no half-made workspace behind. A name PostgreSQL could not store, or longer than
    its column, is a ValidationError on ``name`` (kernel.text).
    """
    slug_validate(slug)
    text_fields_check(Tenant(slug=slug, name=name), fields=["name"])  # before any DDL
    definer = _provision_function_installed()
    if not definer:
        template_ensure_current()  # a single-role set-up: this connection may run DDL
    schema_name = schema_name_for(slug)
    try:
        return _tenant_provision(slug=slug, name=name, schema_name=schema_name, definer=definer)
    except IntegrityError as error:
        # Another sign-up inserted the same address (in any case) since slug_validate: every
        # unique index on these two tables (slug, schema name and hostname all derive from
        # the slug) then says what the check would have said.
        diag = getattr(error.__cause__, "diag", None)
        if getattr(error.__cause__, "sqlstate", None) == UNIQUE_VIOLATION and getattr(
            diag, "table_name", None
        ) in (Tenant._meta.db_table, Domain._meta.db_table):
            raise ValidationError(SLUG_TAKEN, code="taken") from error
        raise
    except ValidationError as error:
        if error.code == SCHEMA_NAME_TAKEN:  # the schema name is the slug's: the same answer
            raise ValidationError(SLUG_TAKEN, code="taken") from error
        raise


def _tenant_provision(*, slug: str, name: str, schema_name: str, definer: bool) -> Tenant:
    with transaction.atomic():
        connection.set_schema_to_public()
        tenant = Tenant.objects.create(schema_name=schema_name, slug=slug, name=name)
        Domain.objects.create(domain=hostname_for(slug), tenant=tenant, is_primary=True)
        if definer:
            # The runtime role runs no DDL: the owner's function renames a ready spare into
            # place (or clones the template) for the row inserted just above, and grants.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT public.shopsafe_schema_provision(%s, %s)",
                    [schema_name, spare_allowed()],
                )
            if not _schema_is_current_in_its_context(schema_name):
                raise ProvisioningError(TEMPLATE_BEHIND)
        else:
            _schema_clone_and_migrate(schema_name)
        if not _schema_is_current_in_its_context(schema_name):
            raise ProvisioningError(
                f"schema {schema_name} is missing migrations after provisioning"
            )
        for check in declared_callables("schema_checks"):
            problem = check(schema_name)
            if problem:
                raise ProvisioningError(problem)
    return tenant


def _schema_is_current_in_its_context(schema_name: str) -> bool:
    # Read in the new workspace's own context: a runtime connection holds nothing on a
    # workspace schema outside it (the workspace's role does, tenants/workspace_roles.py).
    with schema_context(schema_name):
        return schema_is_current(schema_name)


def _provision_function_installed() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('public.shopsafe_schema_provision(text,boolean)')")
        return cursor.fetchone()[0] is not None


def _schema_clone_and_migrate(schema_name: str) -> None:
    SchemaCloner().clone_schema(settings.TENANT_BASE_SCHEMA, schema_name, "DATA")
    # The clone carries the template's migration records with it. If anything is missing
    # (a template that fell behind between the check and the clone), apply it for real.
    if not schema_is_current(schema_name):
        call_command(
            "migrate_schemas",
            tenant=True,
            schema_name=schema_name,
            interactive=False,
            verbosity=0,
            migrate_template=False,
        )
        connection.set_schema_to_public()


def sequences_catch_up(schema_name: str, models_to_reset: list) -> None:
    """Move ``schema_name``'s id sequences past its highest ids (after rows were copied in
    with their ids). The runtime role asks the owner's function; a single-role set-up resets
    them itself."""
    if _provision_function_installed():
        with connection.cursor() as cursor:
            cursor.execute("SELECT public.shopsafe_sequences_catch_up(%s)", [schema_name])
        return
    from django.core.management.color import no_style

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models_to_reset):
            cursor.execute(statement)


def ready_spares_fill(count: int) -> list[str]:
    """OWNER side: clone the current template into spares until ``count`` are ready.

    Sign-up takes a spare by a rename inside the owner's function (milliseconds); run this
    from the owner's worker or after ``migrate_schemas``. A spare cloned before the last
    migration is dropped and replaced. Returns the spares created.
    """
    template_ensure_current()
    connection.set_schema_to_public()
    created: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
            [READY_PREFIX.replace("_", "\\_") + "%"],
        )
        existing = {row[0] for row in cursor.fetchall()}
    quote = connection.ops.quote_name
    for stale in sorted(name for name in existing if not schema_is_current(name)):
        # Cloned before the last migration: the provisioning function skips it; replace it.
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {quote(stale)} CASCADE")
        existing.discard(stale)
    index = 0
    while len(existing) + len(created) < count:
        name = f"{READY_PREFIX}{index}"
        index += 1
        if name in existing:
            continue
        SchemaCloner().clone_schema(settings.TENANT_BASE_SCHEMA, name, "DATA")
        with connection.cursor() as cursor:
            cursor.execute("SELECT public.shopsafe_runtime_grants(%s)", [name])
        created.append(name)
        if len(created) % CATALOG_STATISTICS_EVERY == 0:
            catalog_statistics_refresh()
    clone_helpers_lock_down()
    catalog_statistics_refresh()  # sign-ups since the last refill grew the catalog too
    connection.set_schema_to_public()
    return created


# The catalogs a workspace adds rows to, whose statistics the planner needs current: with
# statistics from when there were ten workspaces, lookups over ten thousand are planned as
# sequential scans and provisioning slows down with every workspace.
GROWING_CATALOGS = (
    "pg_class",
    "pg_attribute",
    "pg_namespace",
    "pg_depend",
    "pg_index",
    "pg_constraint",
    "pg_type",
    "pg_trigger",
    "pg_attrdef",
    "pg_sequence",
    "pg_proc",
)
CATALOG_STATISTICS_EVERY = 25  # spares cloned between two refreshes in one fill
CATALOG_STALE_FRACTION = 0.1  # rows changed since the last ANALYZE, against live rows


def catalog_statistics_refresh(*, force: bool = False) -> list[str]:
    """OWNER side: ANALYZE the growing catalogs whose statistics are stale (more than
    ``CATALOG_STALE_FRACTION`` of their rows changed since the last one), so the planner
    keeps using their indexes while workspaces are provisioned in bulk; autovacuum gets
    there too, but minutes late. The database's owner may analyze its catalogs (the
    cluster-wide ones, such as the roles, are left to autovacuum). Returns the catalogs
    analyzed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_sys_tables WHERE schemaname = 'pg_catalog'"
            " AND relname = ANY(%s)"
            " AND (%s OR n_mod_since_analyze > greatest(50, n_live_tup * %s))",
            [list(GROWING_CATALOGS), force, CATALOG_STALE_FRACTION],
        )
        stale = sorted(row[0] for row in cursor.fetchall())
        if stale:
            quote = connection.ops.quote_name
            cursor.execute("ANALYZE " + ", ".join(f"pg_catalog.{quote(name)}" for name in stale))
    return stale


def public_tenant_ensure() -> Tenant:
    """The platform's own tenant (schema public) and its hostname, created once."""
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME, defaults={"slug": "public", "name": "Platform"}
    )
    Domain.objects.get_or_create(
        domain=settings.APP_DOMAIN, defaults={"tenant": tenant, "is_primary": True}
    )
    return tenant
