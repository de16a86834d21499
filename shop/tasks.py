"""Shop emails, sent by the worker after the write that caused them has committed."""

from __future__ import annotations

from celery import shared_task
from django.urls import reverse

from accounts.tasks import send_templated_email
from kernel.tasks import TenantTask
from tenants.selectors import workspace_url


@shared_task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=30)
def send_quote_sent_email(self, *, tenant_schema: str, quote_id: int) -> None:
    """Tell the customer company that a quote is waiting. Idempotent enough: a redelivery
    sends the same notice again, and a quote deleted meanwhile sends nothing."""
    from .models import Quote

    quote = Quote.objects.select_related("company").filter(pk=quote_id).first()
    if quote is None or not quote.company.email:
        return
    path = reverse("shop:quote-detail", urlconf="config.urls_tenant", kwargs={"pk": quote.pk})
    send_templated_email(
        to=quote.company.email,
        template="quote_sent",
        context={"quote": quote, "workspace": self.tenant, "url": workspace_url(self.tenant, path)},
    )
