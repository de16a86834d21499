"""Two-factor emails, sent by the worker after the change committed.

Invariant: security notices go to the account's own address; an action code goes only to the
member who asked for it (the workspace requirement notice to its owners is
workspace.tasks). Each task reads public tables only and is harmless to run twice.
"""

from __future__ import annotations

from celery import shared_task

from accounts.models import User
from accounts.tasks import send_templated_email
from tenants.selectors import workspace_url

NOTICES = frozenset(
    {
        "two_factor_enabled",
        "two_factor_disabled",
        "recovery_code_used",
        "recovery_codes_regenerated",
    }
)


@shared_task
def send_two_factor_notice(*, user_id: int, workspace_id: int | None, notice: str) -> None:
    """Tell the user their second factor changed (or a recovery code was used)."""
    from accounts.tasks import _security_notice_context

    if notice not in NOTICES:
        raise ValueError(f"unknown two-factor notice {notice!r}")
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    context = _security_notice_context(user, workspace_id)
    workspace = context["workspace"]
    context["security_url"] = (
        workspace_url(workspace, "/accounts/2fa/") if workspace is not None else ""
    )
    send_templated_email(to=user.email, template=notice, context=context)


@shared_task
def send_action_code_email(*, action_code_id: int, code: str) -> None:
    """The one-time code, with what it confirms. The code exists only here and in the email;
    the database holds its HMAC."""
    from .action_codes import Action
    from .models import ActionCode

    row = ActionCode.objects.select_related("user", "tenant").filter(pk=action_code_id).first()
    if row is None or row.used_at is not None or row.invalidated_at is not None:
        return
    send_templated_email(
        to=row.user.email,
        template="action_code",
        context={
            "user": row.user,
            "workspace": row.tenant,
            "code": code,
            "action_label": Action(row.action).label,
            "target_label": row.target_label,
            "expires_at": row.expires_at,
            "minutes": int((row.expires_at - row.created_at).total_seconds() // 60),
            "security_url": workspace_url(row.tenant, "/accounts/security/"),
        },
    )
