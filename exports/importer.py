"""Restoring an export archive into a new workspace (``manage.py import_workspace``).

Invariants:
- Only an archive that :func:`exports.reader.archive_verify` accepted is imported, and only
  once :func:`exports.import_checks.records_check` found no record that breaks a rule of the
  database (repeated ids or unique values, references to records the archive lacks, values
  their columns cannot take, check constraints) and the address is free: those refusals come
  before anything is written. The import is then one transaction: provisioning the workspace
  (``tenants.services.tenant_provision``), every record, the sequences, the audit stream and
  the members. Files are written to storage as the records that name them are read and
  deleted again if anything fails, so an import that still fails leaves nothing behind.
- Primary keys are preserved, so every relation is restored as it was; sequences are reset
  afterwards. Records are written with COPY (no ``save()``, no signals, ``auto_now``
  untouched): the import writes what the archive says, and django-auditlog does not log the
  restore as thousands of new "created" events.
- The audit stream is restored verbatim (same sequence numbers, times and hashes), so it still
  verifies as the same hash chain (``audit_verify``) and its head matches the original's at
  export time; the new workspace's own history (``workspace.imported`` first) continues it.
- References to platform users are re-pointed by email to the account with that email here
  (ids may differ between installations); a nullable reference to an unknown email becomes
  empty, a required one refuses the import. References that are snapshots (no database
  constraint: the audit stream's actors) are kept exactly as written.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

import psycopg
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import DataError, IntegrityError, connection, models, transaction
from django_tenants.utils import tenant_context

from accounts.models import User
from audit.chain import chain_verify
from audit.events import Event
from audit.keys import chain_keys
from audit.models import AuditEvent
from audit.services import PLATFORM_STREAM, audit_event_record
from kernel.roles import Role
from rbac.models import Membership
from shop.storage import private_storage
from tenants.models import Tenant
from tenants.selectors import tenant_host_cache_forget
from tenants.services import hostname_for, sequences_catch_up, slug_validate, tenant_provision

from .archive import file_specs
from .format import AUDIT_ENTITY, Entity, FieldSpec, entities, entity_for, file_storage_key
from .import_checks import ImportRefused, records_check
from .reader import RecordDecoder, VerifiedArchive, records

COPY_BATCH_ROWS = 5000

IMPORT_STREAM_NOT_EMPTY = (
    "The new workspace already has audit events, so the archive's stream cannot be restored "
    "as it was. Nothing was imported."
)
IMPORT_USER_UNKNOWN = (
    "A record of {label} refers to the user {email}, who has no account here, and its "
    "{field} cannot be empty. Create that account first. Nothing was imported."
)
IMPORT_OWNER_UNKNOWN = "There is no account with the email {email}. Nothing was imported."
IMPORT_CHAIN_BROKEN = "The restored audit stream does not verify ({reason}). Nothing was imported."
IMPORT_FILE_NOT_IN_ARCHIVE = (
    "A record refers to the file {path}, which the archive does not hold. Nothing was imported."
)
IMPORT_NOT_EMPTY = (
    "The new workspace already holds {label} records, so the archive's ids cannot be "
    "restored as they were. Nothing was imported."
)
IMPORT_DATABASE_REFUSED = (
    "The database refused the archive's records ({detail}). Nothing was imported."
)


@dataclass
class ImportReport:
    tenant: Tenant
    records: dict[str, int] = field(default_factory=dict)
    files: int = 0
    users_repointed: int = 0
    users_cleared: int = 0
    members_restored: int = 0
    members_skipped: list[str] = field(default_factory=list)
    signed: bool = True


class _Users:
    """Maps the archive's user references to accounts of this installation."""

    def __init__(self, report: ImportReport):
        self.report = report
        self._by_email: dict[str, int | None] = {}

    def local_id(self, ref: dict) -> int | None:
        email = (ref.get("email") or "").strip().lower()
        if not email:
            return None
        if email not in self._by_email:
            self._by_email[email] = (
                User.objects.filter(email=email).values_list("pk", flat=True).first()
            )
        return self._by_email[email]

    def resolver(self, entity: Entity):
        def resolve(spec: FieldSpec, ref):
            if ref is None:
                return None
            if not spec.db_constraint:
                return ref["id"]  # a snapshot, covered by the audit hash: keep as written
            user_id = self.local_id(ref)
            if user_id is None:
                if spec.field.null:
                    self.report.users_cleared += 1
                    return None
                raise ImportRefused(
                    IMPORT_USER_UNKNOWN.format(
                        label=entity.label, email=ref.get("email"), field=spec.name
                    )
                )
            if user_id != ref["id"]:
                self.report.users_repointed += 1
            return user_id

        return resolve


class _Files:
    """Copies archive members into the new workspace's storage prefix, once each."""

    def __init__(self, zip_file, tenant: Tenant, archive: VerifiedArchive, report: ImportReport):
        self.zip_file = zip_file
        self.schema_name = tenant.schema_name
        self.missing = archive.missing_files
        self.listed = archive.manifest["checksums"].keys()
        self.report = report
        self.written: list[str] = []
        self._keys: dict[str, str] = {}

    @staticmethod
    def checker(archive: VerifiedArchive):
        """What ``key_for`` refuses, without storing anything (for ``records_check``)."""
        missing, listed = archive.missing_files, archive.manifest["checksums"].keys()

        def check(member: str) -> str:
            if member not in missing and member not in listed:
                raise ImportRefused(IMPORT_FILE_NOT_IN_ARCHIVE.format(path=member))
            return member

        return check

    def key_for(self, member: str) -> str:
        if member in self._keys:
            return self._keys[member]
        if member in self.missing:
            key = file_storage_key(self.schema_name, member)
            self._keys[member] = key
            return key  # missing at the source too: the record keeps pointing at nothing
        if member not in self.listed:
            raise ImportRefused(IMPORT_FILE_NOT_IN_ARCHIVE.format(path=member))
        key = file_storage_key(self.schema_name, member)
        self._keys[member] = key
        info = self.zip_file.getinfo(member)
        with self.zip_file.open(info) as source:
            content = File(source, name=posixpath.basename(member))
            content.size = info.file_size
            saved_as = private_storage().save(key, content)
        self.written.append(saved_as)
        if saved_as != key:
            raise RuntimeError("private storage renamed an imported file")
        self.report.files += 1
        return key

    def discard(self) -> None:
        for key in self.written:
            private_storage().delete(key)


def _content_type_resolver():
    content_types = apps.get_model("contenttypes.contenttype")
    found: dict[str, int] = {}

    def resolve(natural_key: str) -> int:
        if natural_key not in found:
            app_label, model = natural_key.split(".", 1)
            # Per-schema ids: read this schema's table, not ContentType's process-wide cache.
            found[natural_key] = content_types._base_manager.values_list("pk", flat=True).get(
                app_label=app_label, model=model
            )
        return found[natural_key]

    return resolve


# Field classes whose Python values psycopg writes as they are; any other field (JSON,
# custom fields) goes through its own get_db_prep_save().
_PLAIN_FIELDS = (
    models.AutoField, models.BigAutoField, models.SmallAutoField, models.IntegerField,
    models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
    models.PositiveBigIntegerField, models.PositiveSmallIntegerField, models.BooleanField,
    models.CharField, models.TextField, models.EmailField, models.SlugField, models.URLField,
    models.DecimalField, models.DateField, models.DateTimeField, models.TimeField,
    models.DurationField, models.UUIDField, models.FloatField, models.ForeignKey,
    models.OneToOneField,
)  # fmt: skip


def _preparer(column: models.Field):
    if type(column) in _PLAIN_FIELDS:
        return None
    return lambda value: column.get_db_prep_save(value, connection)


def _copy_rows(model: type[models.Model], columns: list, rows: list[list]) -> None:
    """Write rows exactly as given with COPY (no save(), no signals, no auto_now)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    statement = "COPY {} ({}) FROM STDIN".format(  # identifiers from the models, not input
        quote(model._meta.db_table), ", ".join(quote(column.column) for column in columns)
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _insert_rows(model: type[models.Model], columns: list, rows: list[list]) -> None:
    """Write rows exactly as given with INSERT, for a shared table under row-level security.

    PostgreSQL refuses COPY FROM into a table with row-level security, so the workspace's
    memberships go in as plain INSERTs, checked by the table's policy like any other write.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    # S608: the identifiers come from the models and every value is a bound parameter.
    statement = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(quote(column.column) for column in columns),
        ", ".join(["%s"] * len(columns)),
    )
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)


def _load_entity(zip_file, entity: Entity, *, users: _Users, files: _Files) -> int:
    model = entity.model
    columns = list(model._meta.concrete_fields)
    preparers = [_preparer(column) for column in columns]
    decoder = RecordDecoder(
        entity,
        resolve_user=users.resolver(entity),
        resolve_content_type=_content_type_resolver(),
        file_key=files.key_for if file_specs(entity) else None,
    )
    batch: list[list] = []
    count = 0
    # Decoding may query (users, content types); COPY holds the connection while it runs,
    # so rows are decoded a batch at a time and then copied.
    for line, record in records(zip_file, entity):
        values = decoder.decode(record, line=line)
        row = [values[column.attname] for column in columns]
        for index, prepare in enumerate(preparers):
            if prepare is not None:
                row[index] = prepare(row[index])
        batch.append(row)
        count += 1
        if len(batch) >= COPY_BATCH_ROWS:
            _copy_rows(model, columns, batch)
            batch = []
    _copy_rows(model, columns, batch)
    return count


def _reset_sequences(entity_models: list[type[models.Model]]) -> None:
    # The runtime role may not setval: the owner's function moves the sequences forward.
    sequences_catch_up(connection.schema_name, entity_models)  # type: ignore[attr-defined]


def _restore_members(zip_file, entity: Entity, *, tenant: Tenant, users: _Users, report) -> None:
    columns = [column for column in entity.model._meta.concrete_fields if not column.primary_key]
    decoder = RecordDecoder(
        entity, resolve_user=lambda spec, ref: None if ref is None else users.local_id(ref)
    )
    rows = []
    for line, record in records(zip_file, entity):
        values = {**decoder.decode(record, line=line), "tenant_id": tenant.pk}
        if values.get("user_id") is None:
            report.members_skipped.append((record.get("user") or {}).get("email") or "?")
            continue
        rows.append([values[column.attname] for column in columns])
    _insert_rows(Membership, columns, rows)
    for membership in Membership.objects.filter(tenant=tenant).select_related("user"):
        audit_event_record(
            event_type=Event.MEMBER_ADDED,
            actor=None,
            target=membership.user,
            data={"role": membership.role, "restored_from_export": True},
        )
    report.members_restored = len(rows)


def _ensure_owner(tenant: Tenant, owner: User) -> None:
    membership = Membership.objects.filter(tenant=tenant, user=owner).first()
    if membership is None:
        Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
        audit_event_record(
            event_type=Event.MEMBER_ADDED, actor=None, target=owner, data={"role": Role.OWNER}
        )
    elif membership.role != Role.OWNER or not membership.is_active:
        before = membership.role
        membership.role, membership.company_id, membership.is_active = Role.OWNER, None, True
        membership.save(update_fields=["role", "company_id", "is_active"])
        audit_event_record(
            event_type=Event.MEMBER_ROLE_CHANGED,
            actor=None,
            target=owner,
            changes={"role": [before, Role.OWNER]},
        )


def workspace_import(
    *,
    archive: VerifiedArchive,
    slug: str,
    name: str = "",
    owner_email: str = "",
    restore_members: bool = False,
) -> ImportReport:
    """Create workspace ``slug`` holding everything in ``archive``; see the module docstring."""
    manifest = archive.manifest
    owner = None
    if owner_email:
        owner = User.objects.filter(email=owner_email.strip().lower()).first()
        if owner is None:
            raise ImportRefused(IMPORT_OWNER_UNKNOWN.format(email=owner_email))
    try:
        slug_validate(slug)
    except ValidationError as error:
        raise ImportRefused(f"{' '.join(error.messages)} Nothing was imported.") from error
    # Every rule the records could break is checked before anything is written.
    checking = _Users(ImportReport(tenant=None, signed=archive.signed))  # type: ignore[arg-type]
    records_check(
        archive,
        resolve_user_for=checking.resolver,
        member_user=checking.local_id,
        file_check=_Files.checker(archive),
        include_members=restore_members,
    )
    report = ImportReport(tenant=None, signed=archive.signed)  # type: ignore[arg-type]
    users = _Users(report)
    files: _Files | None = None
    try:
        with transaction.atomic():
            tenant = tenant_provision(slug=slug, name=name or manifest["workspace"]["name"])
            report.tenant = tenant
            with tenant_context(tenant), archive.open() as zip_file:
                if AuditEvent.objects.exists():
                    raise ImportRefused(IMPORT_STREAM_NOT_EMPTY)
                for entity in entities():
                    if not entity.platform_scope and entity.model._base_manager.exists():
                        raise ImportRefused(IMPORT_NOT_EMPTY.format(label=entity.label))
                files = _Files(zip_file, tenant, archive, report)
                loaded = []
                for label in manifest["entities"]:
                    listed = entity_for(label)
                    if listed is None or listed.platform_scope:
                        continue
                    report.records[label] = _load_entity(zip_file, listed, users=users, files=files)
                    loaded.append(listed.model)
                with connection.cursor() as cursor:
                    # Check the deferred foreign keys now, inside this block (also when it
                    # is nested in a caller's transaction), not at some later commit.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                _reset_sequences(loaded)
                head = _verify_restored_stream()
                audit_event_record(
                    event_type=Event.WORKSPACE_IMPORTED,
                    actor=None,
                    target=tenant,
                    data=_import_data(manifest, report, head),
                )
                members = entity_for("rbac.membership")
                if restore_members and members and members.label in manifest["entities"]:
                    _restore_members(zip_file, members, tenant=tenant, users=users, report=report)
                if owner is not None:
                    _ensure_owner(tenant, owner)
            audit_event_record(
                event_type=Event.WORKSPACE_IMPORTED,
                stream=PLATFORM_STREAM,
                actor=None,
                target=tenant,
                data=_import_data(manifest, report, head),
            )
    except (IntegrityError, DataError, psycopg.Error) as error:
        # What records_check cannot see (a rule written only in SQL) is refused here, with
        # PostgreSQL's reason; COPY runs on psycopg's own cursor, whose errors Django does
        # not wrap.
        if files is not None:
            files.discard()
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ImportRefused(IMPORT_DATABASE_REFUSED.format(detail=detail)) from error
    except BaseException:
        if files is not None:
            files.discard()
        raise
    tenant_host_cache_forget(hostname_for(slug))
    return report


def _verify_restored_stream() -> str:
    report = chain_verify(
        AuditEvent.objects.order_by("sequence").iterator(chunk_size=5000), keys=chain_keys()
    )
    if report.first_break is not None:  # the report is ok exactly when there is none
        raise ImportRefused(IMPORT_CHAIN_BROKEN.format(reason=report.first_break.reason))
    return f"{report.head_sequence}:{report.head_hash}"


def _import_data(manifest: dict, report: ImportReport, head: str) -> dict:
    return {
        "source_workspace": manifest["workspace"]["slug"],
        "source_export_id": manifest.get("export_id"),
        "exported_at": manifest.get("exported_at"),
        "records": sum(report.records.values()),
        "audit_events": report.records.get(AUDIT_ENTITY, 0),
        "audit_head_at_import": head,
        "files": report.files,
        "signed_by_this_installation": report.signed,
    }
