"""The confirmation step for irreversible actions: one reusable page pattern.

A view that performs an irreversible action hands its POST handling to
:func:`action_confirmation_step`, which walks the member through three states on the view's
own URL:

1. GET: what will happen (``consequences``) and a button that emails a code;
2. POST ``step=send``: the code is emailed (``action_code_request``); the page asks for it;
3. POST ``step=confirm``: the code is checked (``action_code_confirm``) and, only if it is
   right, ``perform(confirmation)`` runs and its response is returned.

Example (a view that already passed the gate with its capability)::

    return action_confirmation_step(
        request,
        action=Action.WORKSPACE_DELETE,
        target=request.tenant,
        title=f"Delete {request.tenant.name}",
        consequences=["Every record of the workspace is deleted", ...],
        confirm_label="Delete workspace",
        cancel_url=reverse("workspace:settings"),
        perform=lambda confirmation: _delete(request, confirmation),
    )

``hidden`` carries extra form values through the steps (a chosen member id, say);
``irreversible=False`` drops the "This cannot be undone." line for actions that can be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render

from accounts.throttle import Throttled

from .action_codes import ConfirmedAction, action_code_confirm, action_code_request
from .forms import ActionCodeForm

STEP_FIELD = "step"
STEP_SEND = "send"
STEP_CONFIRM = "confirm"


def action_confirmation_step(
    request,
    *,
    action: str,
    target,
    title: str,
    consequences: Sequence[str],
    confirm_label: str,
    cancel_url: str,
    perform: Callable[[ConfirmedAction], HttpResponse],
    hidden: dict[str, str] | None = None,
    intro: str = "",
    irreversible: bool = True,
) -> HttpResponse:
    """Render or advance the confirmation step for ``action`` on ``target``."""
    context = {
        "title": title,
        "intro": intro,
        "consequences": list(consequences),
        "confirm_label": confirm_label,
        "cancel_url": cancel_url,
        "hidden": hidden or {},
        "step": "explain",
        "form": ActionCodeForm(),
        "sent": None,
        "irreversible": irreversible,
    }
    actor = request.membership
    tenant = request.tenant
    step = request.POST.get(STEP_FIELD) if request.method == "POST" else None
    if step == STEP_SEND:
        try:
            context["sent"] = action_code_request(
                actor=actor, tenant=tenant, action=action, target=target
            )
        except Throttled as error:
            return _throttled(request, context, error)
        context["step"] = "code"
        return render(request, "accounts/twofactor/action_confirm.html", context)
    if step == STEP_CONFIRM:
        form = ActionCodeForm(request.POST)
        context.update(step="code", form=form)
        if form.is_valid():
            try:
                confirmation = action_code_confirm(
                    actor=actor,
                    tenant=tenant,
                    action=action,
                    target=target,
                    code=form.cleaned_data["code"],
                )
            except Throttled as error:
                return _throttled(request, context, error)
            except ValidationError as error:
                for message in error.message_dict.get("code", error.messages):
                    form.add_error("code", message)
            else:
                return perform(confirmation)
        return render(request, "accounts/twofactor/action_confirm.html", context, status=400)
    return render(request, "accounts/twofactor/action_confirm.html", context)


def _throttled(request, context: dict, error: Throttled) -> HttpResponse:
    context["throttled"] = error.message
    response = render(request, "accounts/twofactor/action_confirm.html", context, status=429)
    response["Retry-After"] = str(error.retry_after_seconds)
    return response
