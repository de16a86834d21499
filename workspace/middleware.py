"""The gate: every request to a workspace host passes through here.

Invariant: for a tenant host, a view runs only if (1) the host resolved to a live workspace,
(2) the view declares a capability, and (3) either the view is PUBLIC (sign-in and friends)
or the signed-in user holds an active Membership of this workspace whose role grants that
capability. Non-members get exactly the 404 a missing object gets; members lacking the
capability get 403; anonymous visitors are sent to this workspace's sign-in page. A signed-in
session must also be tracked and within the workspace's idle and absolute timeouts
(accounts.sessions), and a member who must replace a temporary password is sent to the
change page from every other page. In a workspace that requires two-factor authentication, a
member without it whose session started after the requirement is sent to enrollment from
every other page (accounts.twofactor). A platform support agent is never a member: the agent
gets in only through a live impersonation session (support.gate), which runs as the
impersonated member's membership minus the forbidden capabilities, read-only unless the
session allows writes, with the agent as the audited actor of every request.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import DatabaseError, connection
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django_tenants.middleware.main import TenantMainMiddleware

from accounts.sessions import SESSION_WORKSPACE_KEY, session_enforce
from accounts.twofactor.services import two_factor_enrollment_required
from kernel.capabilities import PUBLIC, capabilities_for, capabilities_in_state
from kernel.context import audit_context
from kernel.decorators import declared_capability
from kernel.logging import note_refusal
from kernel.tenant_connection import tenant_connection
from rbac.models import Membership
from support.gate import (
    impersonation_capabilities,
    impersonation_check_view,
    impersonation_context,
    impersonation_load,
    impersonation_request_record,
)
from tenants.logging import current_request_id
from tenants.models import Tenant
from tenants.selectors import (
    tenant_for_hostname,
    tenant_for_hostname_provisional,
    tenant_host_cache_forget,
    tenant_host_local_forget,
    tenant_host_local_remember,
)
from tenants.views import unknown_workspace
from tenants.writability import WORKSPACE_READ_ONLY_MESSAGE

from .gate_lookup import GateLookup, gate_lookup

logger = logging.getLogger("tenants.gate")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _looked_up(request, name: str):
    """What the gate's lookup read for the request's current user, or None (the user was not
    established by the lookup, or has changed since: signed out)."""
    lookup = getattr(request, "gate_lookup", None)
    if lookup is None or lookup.user_id is None or lookup.user_id != request.user.pk:
        return None
    return getattr(lookup, name)


class TenantHostMiddleware(TenantMainMiddleware):
    """Resolves host -> tenant through a cached lookup; unknown hosts get a friendly 404."""

    def process_request(self, request):
        # A host outside ALLOWED_HOSTS raises DisallowedHost here: our 400 page and one log
        # line (kernel.logging), instead of django-tenants' empty 404.
        request.get_host()
        return super().process_request(request)

    def get_tenant(self, domain_model, hostname):
        # From this process's map when it holds the host (no round trip): provisional, and
        # confirmed or replaced by the gate before any view runs (tenants/selectors.py).
        tenant, provisional = tenant_for_hostname_provisional(hostname)
        if tenant is None:
            raise domain_model.DoesNotExist
        tenant.host_provisional = provisional
        return tenant


def _differs(current: Tenant, cached: Tenant) -> bool:
    return any(
        getattr(current, field.attname) != getattr(cached, field.attname)
        for field in Tenant._meta.concrete_fields
    )


class RequestIdMiddleware:
    """Gives each request an id (kept from a sane X-Request-ID) for logs and the audit stream."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = current_request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class WorkspaceGateMiddleware:
    """Membership, capability and lifecycle check for every workspace view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.capabilities = frozenset()
        request.impersonation = None
        tenant = getattr(request, "tenant", None)
        lookup = None
        if tenant is not None and not tenant.is_public:
            # Session, user, tracked session, membership, banner and the workspace's own row
            # in one statement, with the workspace context in the same round trip
            # (workspace.gate_lookup).
            lookup, tenant = self._lookup_with_current_tenant(request, tenant)
            if tenant is None:
                return unknown_workspace(request)
            if lookup is not None:
                request.support_active_until = lookup.support_active_until
                request.incident_open = lookup.incident_open
        request.gate_lookup = lookup
        if tenant is not None and request.user.is_authenticated:
            bound = request.session.get(SESSION_WORKSPACE_KEY)
            if bound != tenant.schema_name:
                # A session is valid only on the host it was created on; a copied cookie
                # presented elsewhere is treated as no session at all.
                logger.warning("session presented on a host it was not created for")
                logout(request)
            elif not tenant.is_public:
                # Revoked, ended and timed-out sessions are signed out here.
                session_enforce(request, tracked=_looked_up(request, "tracked"))
                if request.user.is_authenticated:
                    # A support agent's impersonation session (support.gate): honoured only
                    # while live; the agent stays the audited actor of every request.
                    request.impersonation = impersonation_load(request)
        if request.impersonation is not None:
            with audit_context(**impersonation_context(request.impersonation)):
                response = self.get_response(request)
                impersonation_request_record(request, response)
            return response
        return self.get_response(request)

    def _lookup_with_current_tenant(self, request, tenant: Tenant):
        """The gate's lookup, and the workspace as it is now: the row the lookup read, or
        the ordinary (invalidated) host lookup's answer where the lookup read none or the host
        came from this process's map and no longer resolves to that row. None for a host
        that resolves to no workspace any more. Every view sees the current row: its state
        (cancelled, archived, purging) and settings are never a cached copy's."""
        hostname = getattr(tenant, "domain_url", "") or ""
        provisional = getattr(tenant, "host_provisional", False)
        try:
            lookup = gate_lookup(request, tenant)
        except DatabaseError:
            if not provisional or connection.in_atomic_block:
                raise
            # A workspace whose role is gone (purged since this process read the host): the
            # context cannot even be entered. Nothing was read; resolve the host again.
            tenant_connection.set_schema_to_public()
            lookup = GateLookup(None, None, None, None, tenant=None)
        if lookup is not None and lookup.tenant is not None:
            current = lookup.tenant
            if provisional or _differs(current, tenant):
                tenant_host_local_remember(hostname, current)
        elif lookup is None and not provisional:
            return None, tenant  # the ordinary lookup's answer, as before this map
        else:
            # The map's entry could not be confirmed (no lookup ran) or the host no longer
            # resolves to that row: ask the ordinary lookup, which is invalidated on change.
            if lookup is not None:  # the statement proved the entry wrong: drop both
                tenant_host_cache_forget(hostname)
            tenant_connection.set_schema_to_public()  # hostnames are read in the platform's view
            resolved = tenant_for_hostname(hostname)
            if resolved is None:
                tenant_host_local_forget(hostname)
                return None, None
            current = resolved
            tenant_host_local_remember(hostname, current)
            current.domain_url = hostname
            tenant_connection.set_tenant(current)
            if lookup is not None:  # stale: nothing was read; read again for the current row
                lookup = gate_lookup(request, current)
                if lookup is not None and lookup.tenant is None:
                    tenant_connection.set_schema_to_public()
                    return None, None  # changed again meanwhile: no workspace for now
                if lookup is not None and lookup.tenant is not None:
                    current = lookup.tenant
        if tenant_connection.schema_name != current.schema_name:
            tenant_connection.set_tenant(current)
        else:
            tenant_connection.tenant = current  # the same schema and role: nothing to send
        request.tenant = current
        return lookup, current

    def process_view(self, request, view_func, view_args, view_kwargs):
        tenant: Tenant | None = getattr(request, "tenant", None)
        if tenant is None or tenant.is_public:
            return None
        capability = declared_capability(view_func)
        if capability is None:
            raise ImproperlyConfigured(
                f"{view_func.__module__}.{view_func.__name__} declares no capability"
            )
        if tenant.is_closed:
            # Closed: nobody signs in, not even to the sign-in page (support restores from
            # the console on the public host).
            raise Http404("workspace closed")
        if getattr(request, "impersonation", None) is not None:
            return self._impersonated_view(request, view_func, capability)
        if capability == PUBLIC:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse(settings.LOGIN_URL))
        if request.user.is_support_agent:
            # Platform staff are never members: they reach a workspace only by impersonation.
            note_refusal(request, f"support agent {request.user.pk} outside impersonation")
            raise Http404("not a member")
        if _looked_up(request, "user_id") is not None:
            membership = _looked_up(request, "membership")
        else:
            membership = (
                Membership.objects.filter(user=request.user, tenant=tenant, is_active=True)
                .select_related("user")
                .first()
            )
        if membership is not None:
            Membership.tenant.field.set_cached_value(membership, tenant)  # never fetched again
        if membership is None:
            note_refusal(request, f"user {request.user.pk} is not a member of {tenant.slug}")
            raise Http404("not a member")
        request.membership = membership
        held = capabilities_for(membership)
        request.capabilities = capabilities_in_state(held, cancelled=tenant.is_read_only)
        if request.user.must_change_password and not getattr(
            view_func, "allowed_before_password_change", False
        ):
            return HttpResponseRedirect(reverse("accounts:password-change"))
        if (
            tenant.require_2fa
            and not request.user.must_change_password  # that page comes first (above)
            and not getattr(view_func, "allowed_during_two_factor_enrollment", False)
            and two_factor_enrollment_required(request)
        ):
            return HttpResponseRedirect(reverse("accounts:two-factor-setup"))
        if capability not in request.capabilities:
            if capability in held:  # the role has it; the cancelled workspace does not
                raise PermissionDenied(WORKSPACE_READ_ONLY_MESSAGE)
            raise PermissionDenied(f"needs {capability}")
        if (
            tenant.is_read_only
            and request.method not in _SAFE_METHODS
            and not getattr(view_func, "allowed_when_cancelled", False)
        ):
            raise PermissionDenied(WORKSPACE_READ_ONLY_MESSAGE)
        return None

    def _impersonated_view(self, request, view_func, capability) -> None:
        """An agent acting as a member: the member's capabilities minus the forbidden ones,
        read-only unless the session allows writes (support.gate)."""
        impersonation_check_view(request, view_func, capability)
        request.membership = request.impersonation.acting_as
        held = impersonation_capabilities(request.impersonation, request.membership)
        request.capabilities = capabilities_in_state(held, cancelled=request.tenant.is_read_only)
        if capability != PUBLIC and capability not in request.capabilities:
            if capability in held:
                raise PermissionDenied(WORKSPACE_READ_ONLY_MESSAGE)
            raise PermissionDenied(f"needs {capability}")
        if (
            request.tenant.is_read_only
            and request.method not in _SAFE_METHODS
            and not getattr(view_func, "allowed_when_cancelled", False)
        ):
            raise PermissionDenied(WORKSPACE_READ_ONLY_MESSAGE)
