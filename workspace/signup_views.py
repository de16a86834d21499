"""The sign-up page of the public host (APP_DOMAIN/signup/): creates an account (or adds a
workspace to an existing one) and hands the new owner over to the workspace's own host.

Views hold no business rules: the page calls ``workspace.signup.workspace_sign_up``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.forms import SignUpForm
from accounts.throttle import Throttled
from kernel.context import client_ip
from tenants.selectors import workspace_url

from .signup import workspace_sign_up

TEMPLATE = "accounts/sign_up.html"


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _throttled(request, context: dict, error: Throttled) -> HttpResponse:
    """429 with the clear message next to the form and the wait in Retry-After."""
    context["form"].add_error(None, error.message)
    response = render(request, TEMPLATE, context, status=429)
    response["Retry-After"] = str(error.retry_after_seconds)
    return response


@require_http_methods(["GET", "POST"])
def sign_up(request):
    form = SignUpForm(request.POST or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = workspace_sign_up(
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],
                workspace_name=data["workspace_name"],
                slug=data["slug"],
                ip=client_ip(request),
            )
        except Throttled as error:
            return _throttled(request, context, error)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return HttpResponseRedirect(
                workspace_url(result.tenant, f"/accounts/handoff/{result.handoff_token}/")
            )
    status = 400 if form.errors else 200
    return render(request, TEMPLATE, context, status=status)
