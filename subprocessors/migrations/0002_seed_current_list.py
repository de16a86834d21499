"""The list as the code stands: the only vendor the product itself sends customer data to.

Postmark delivers every email in production (config/settings/production.py), so it handles
recipients' addresses and the messages' contents. Nothing else is named by the code: file
storage is whichever S3-compatible service the operator configures (S3_ENDPOINT_URL; R2,
MinIO on their own servers, AWS S3), and hosting is wherever the operator runs the containers,
so the operator adds those with ``manage.py subprocessor add`` (README, "Sub-processors").
Billing (Stripe) is not built yet; it joins the list, with notice, when it is.
"""

from datetime import UTC, date, datetime

from django.db import migrations

SEEDED_ON = date(2026, 12, 8)


def seed(apps, schema_editor):
    SubProcessor = apps.get_model("subprocessors", "SubProcessor")
    SubProcessorChange = apps.get_model("subprocessors", "SubProcessorChange")
    vendor, created = SubProcessor.objects.get_or_create(name="Postmark (ActiveCampaign)")
    if not created:
        return
    SubProcessorChange.objects.create(
        sub_processor=vendor,
        kind="added",
        purpose="Delivers the product's emails (invitations, sign-in codes, notices)",
        data_involved="Recipients' email addresses and names; the content of those emails",
        region="United States",
        note="Initial list.",
        effective_on=SEEDED_ON,
        published_at=datetime(2026, 12, 8, tzinfo=UTC),
        published_by=None,
    )


class Migration(migrations.Migration):
    dependencies = [("subprocessors", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
