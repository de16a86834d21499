"""Account emails, sent by the worker."""

from __future__ import annotations

from celery import shared_task

from kernel.email import email_send_templated
from kernel.tasks import TenantTask
from tenants.selectors import public_url, workspace_url

from .models import User

# How long a sign-up link works (workspace.signup.SIGN_UP_LINK_SECONDS; this floor cannot import
# it, and the test of the sign-up emails holds the two together).
SIGN_UP_LINK_HOURS = 24


def send_templated_email(*, to: str, template: str, context: dict) -> None:
    """Send ``emails/<template>`` to one address (kernel.email renders and sends it)."""
    email_send_templated(to=[to], template=f"emails/{template}", context=context)


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


@shared_task(base=TenantTask, bind=True, max_retries=5, default_retry_delay=30)
def send_password_reset_email(self, *, tenant_schema: str, user_id: int, token: str) -> None:
    """The reset link for the workspace host it was asked on (the token exists only here and in
    the email; the database holds its digest)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    from .passwords import PASSWORD_RESET_SECONDS

    send_templated_email(
        to=user.email,
        template="password_reset",
        context={
            "user": user,
            "workspace": self.tenant,
            "url": workspace_url(self.tenant, f"/accounts/password-reset/link/{token}/"),
            "minutes": PASSWORD_RESET_SECONDS // 60,
        },
    )


def _security_notice_context(user: User, workspace_id: int | None) -> dict:
    from tenants.models import Tenant

    workspace = Tenant.objects.filter(pk=workspace_id).first() if workspace_id else None
    return {
        "user": user,
        "workspace": workspace,
        "reset_url": workspace_url(workspace, "/accounts/password-reset/")
        if workspace
        else public_url("/find-workspaces/"),
    }


@shared_task
def send_password_changed_email(*, user_id: int, workspace_id: int | None) -> None:
    """Security notice: the password was changed (or reset); reads public tables only."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    send_templated_email(
        to=user.email,
        template="password_changed",
        context=_security_notice_context(user, workspace_id),
    )


@shared_task
def send_account_locked_email(*, user_id: int, workspace_id: int | None) -> None:
    """Security notice: too many failed sign-ins locked the account until a password reset."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    send_templated_email(
        to=user.email,
        template="account_locked",
        context=_security_notice_context(user, workspace_id),
    )


@shared_task
def send_sign_up_confirm_email(*, sign_up_request_id: int, token: str) -> None:
    """The link that creates the workspace (and the account) a sign-up asked for: sent to the
    address, which proves it before anything exists (the token is only here and in the email;
    the database holds its digest)."""
    from tenants.models import Tenant

    from .models import SignUpRequest

    pending = SignUpRequest.objects.filter(pk=sign_up_request_id, used_at__isnull=True).first()
    if pending is None:
        return
    send_templated_email(
        to=pending.email,
        template="sign_up_confirm",
        context={
            "pending": pending,
            "url": public_url(f"/signup/confirm/{token}/"),
            "workspace_url": workspace_url(Tenant(slug=pending.slug)),
            "hours": SIGN_UP_LINK_HOURS,
        },
    )


@shared_task
def send_sign_up_existing_account_email(
    *, sign_up_request_id: int, user_id: int, token: str
) -> None:
    """To the holder of an address someone signed up with: no workspace was created; how to
    sign in or reset the password in each of their workspaces, and the link that adds the new
    workspace to their account with its password (if it was them)."""
    from tenants.models import Tenant
    from tenants.writability import OPEN_STATES

    from .memberships import workspaces_of_email
    from .models import SignUpRequest

    pending = SignUpRequest.objects.filter(pk=sign_up_request_id, used_at__isnull=True).first()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if pending is None or user is None:
        return
    workspaces: list[Tenant] = list(
        workspaces_of_email(user.email).filter(state__in=OPEN_STATES).order_by("name")
    )
    send_templated_email(
        to=user.email,
        template="sign_up_existing_account",
        context={
            "user": user,
            "pending": pending,
            "url": public_url(f"/signup/confirm/{token}/"),
            "workspaces": [
                {
                    "name": tenant.name,
                    "sign_in_url": workspace_url(tenant, "/accounts/sign-in/"),
                    "reset_url": workspace_url(tenant, "/accounts/password-reset/"),
                }
                for tenant in workspaces
            ],
            "find_url": public_url("/find-workspaces/"),
            "hours": SIGN_UP_LINK_HOURS,
        },
    )


@shared_task
def expired_rows_purge() -> dict[str, int]:
    """Beat, hourly: delete rate-limit counters long expired (``throttle.counters_purge``) and
    sign-up requests whose link expired a day ago (with the password hash they may hold).
    Public tables: the connection is put on the public schema first."""
    from datetime import timedelta

    from django.utils import timezone

    from kernel.tenant_connection import tenant_connection

    from . import throttle
    from .models import SignUpRequest

    tenant_connection.set_schema_to_public()
    now = timezone.now()
    sign_ups, _ = SignUpRequest.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    return {"counters": throttle.counters_purge(now), "sign_up_requests": sign_ups}
