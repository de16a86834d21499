"""Account emails, sent by the worker."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from tenants.selectors import public_url, workspace_url
from tenants.tasks import TenantTask

from .models import User


def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """Render ``emails/<template>.txt`` (and .html when present) and send it."""
    subject = render_to_string(f"emails/{template}.subject.txt", context).strip()
    body = render_to_string(f"emails/{template}.txt", context)
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    message.send()


@shared_task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=30)
def send_welcome_email(self, *, tenant_schema: str, user_id: int) -> None:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    send_templated_email(
        to=user.email,
        template="welcome",
        context={"user": user, "workspace": self.tenant, "url": workspace_url(self.tenant)},
    )


@shared_task
def send_workspace_list_email(*, email: str, workspace_ids: list[int]) -> None:
    """The answer to "find my workspaces", sent to the address rather than shown on screen."""
    from tenants.models import Tenant

    workspaces = [
        {"name": tenant.name, "url": workspace_url(tenant)}
        for tenant in Tenant.objects.filter(pk__in=workspace_ids).order_by("name")
    ]
    send_templated_email(
        to=email,
        template="workspace_list",
        context={"workspaces": workspaces, "signup_url": public_url("/signup/")},
    )
