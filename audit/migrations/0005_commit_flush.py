"""The sequence a stream writer's commit flushes the WAL with (audit.services, "flush").

A transaction that appends to a stream holds the stream's lock until it commits; it commits
without waiting for the disk (so the lock is not held through the flush) and then waits in a
second, tiny transaction that must write WAL and hold a transaction id: ``setval`` on this
sequence does both. Nothing reads its value. Every role may set it (workspace roles and the
runtime role alike, whatever context the connection is in); it holds no data. Created in public
only (this migration also runs in the template and every workspace schema, where it does
nothing): search_path always ends with public.
"""

from django.db import migrations

FLUSH_SEQUENCE = "audit_commit_flush"  # audit.services.FLUSH_SEQUENCE, frozen here

CREATE = f"""
DO $$ BEGIN
  IF current_schema() = 'public' THEN
    CREATE SEQUENCE IF NOT EXISTS {FLUSH_SEQUENCE};
    REVOKE ALL ON SEQUENCE {FLUSH_SEQUENCE} FROM PUBLIC;
    GRANT UPDATE ON SEQUENCE {FLUSH_SEQUENCE} TO PUBLIC;
  END IF;
END $$;
"""
DROP = f"""
DO $$ BEGIN
  IF current_schema() = 'public' THEN
    DROP SEQUENCE IF EXISTS {FLUSH_SEQUENCE};
  END IF;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_alter_auditevent_actor_kind"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
