"""The keyed chain: a chain version and a key id per event (audit.chain).

Existing rows get chain_version 1 (plain SHA-256, what they were written with) and no key id;
ADD COLUMN with a constant default fills them without an UPDATE, so the append-only triggers
are not involved. Every event written from now on is version 2 (HMAC under key_id's key), and
the first one seals the stream's legacy prefix: its keyed link covers the last SHA-256 link.
Runs in public, the template and every workspace schema.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_append_only'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditevent',
            name='chain_version',
            field=models.PositiveSmallIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='key_id',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=32),
        ),
    ]
