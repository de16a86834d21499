"""``manage.py api_token_create --workspace SLUG --email EMAIL --name NAME
(--scopes A,B | --read-only) --expires-days N``

Creates a personal API token for an existing member of the workspace and prints it once (it
is stored only as a hash). Audited in the workspace's stream as created by the system, on the
platform admin's command. A support agent or a non-member gets no token.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_tenants.utils import tenant_context

from api.services import MAX_LIFETIME_DAYS, api_token_create, scopes_read_only
from kernel.context import system_audit_context
from rbac.models import Membership
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Create a personal API token for a member and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument("--email", required=True, help="The member's email.")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument("--scopes", default="", help="Capabilities, comma-separated.")
        parser.add_argument(
            "--read-only", action="store_true", help="Every read capability the member holds."
        )
        parser.add_argument(
            "--expires-days", type=int, required=True, help=f"1 to {MAX_LIFETIME_DAYS}."
        )

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["workspace"]).first()
        if tenant is None or tenant.is_public:
            raise CommandError(f"No workspace {options['workspace']!r}.")
        membership = (
            Membership.objects.select_related("user", "tenant")
            .filter(tenant=tenant, user__email__iexact=options["email"], is_active=True)
            .first()
        )
        if membership is None:
            raise CommandError(f"{options['email']} is not a member of {tenant.slug}.")
        days = options["expires_days"]
        if not 1 <= days <= MAX_LIFETIME_DAYS:
            raise CommandError(f"--expires-days must be between 1 and {MAX_LIFETIME_DAYS}.")
        scopes = [s for s in options["scopes"].split(",") if s.strip()]
        if options["read_only"]:
            scopes += scopes_read_only(membership)
        with tenant_context(tenant), system_audit_context():
            try:
                created = api_token_create(
                    tenant=tenant,
                    owner=membership,
                    name=options["name"],
                    scopes=scopes,
                    expires_at=timezone.now() + timedelta(days=days),
                    created_by=None,
                )
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            except PermissionDenied as error:
                raise CommandError(str(error)) from None
        token = created.token
        self.stderr.write(
            f"Token {token.pk} ({token.display_prefix}…) for {membership.user.email}, "
            f"scopes {','.join(token.scopes)}, expires {token.expires_at:%Y-%m-%d}. "
            "It is shown once, below; store it now."
        )
        self.stdout.write(created.secret)
