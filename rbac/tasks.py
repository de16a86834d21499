"""Member-management emails, sent by the worker after the transaction commits."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.tasks import send_templated_email
from kernel.tasks import TenantTask
from tenants.selectors import workspace_url

from .models import Invitation


@shared_task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=30)
def send_invitation_email(self, *, tenant_schema: str, invitation_id: int, token: str) -> None:
    """Email the invitation link. The token travels only in this message and the email (the
    database keeps its digest). A redelivery sends the same link again, which is harmless; an
    invitation revoked or accepted in the meantime is not sent at all."""
    from .services import invitation_url_path

    invitation = (
        Invitation.objects.select_related("invited_by")
        .filter(pk=invitation_id, tenant=self.tenant)
        .first()
    )
    if invitation is None or not invitation.is_pending_at(timezone.now()):
        return
    send_templated_email(
        to=invitation.email,
        template="invitation",
        context={
            "invitation": invitation,
            "workspace": self.tenant,
            "role": invitation.get_role_display(),
            "invited_by": invitation.invited_by,
            "url": workspace_url(self.tenant, invitation_url_path(token)),
        },
    )


@shared_task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=30)
def send_temporary_password_notice(self, *, tenant_schema: str, user_id: int, actor_id: int):
    """Tell a member an admin set a temporary password for their account. The password is
    not in the message (nor in this task's arguments): it is handed over in person."""
    from accounts.models import User

    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    send_templated_email(
        to=user.email,
        template="temporary_password_set",
        context={
            "user": user,
            "workspace": self.tenant,
            "set_by": User.objects.filter(pk=actor_id).first(),
            "must_change": user.must_change_password,
            "url": workspace_url(self.tenant),
        },
    )
