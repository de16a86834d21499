"""``manage.py api_token_revoke --workspace SLUG ID``: revoke a personal API token at once
(audited as the system). ``--all-for EMAIL`` revokes every live token of one member."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from api.models import ApiToken
from api.services import api_token_revoke
from kernel.context import system_audit_context
from rbac.models import Membership
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Revoke a personal API token (by id, or every live token of a member)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument("token_id", nargs="?", type=int, help="The token's id.")
        parser.add_argument("--all-for", default="", help="A member's email: all their tokens.")

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["workspace"]).first()
        if tenant is None or tenant.is_public:
            raise CommandError(f"No workspace {options['workspace']!r}.")
        if (options["token_id"] is None) == (not options["all_for"]):
            raise CommandError("Give a token id or --all-for EMAIL (one of the two).")
        with tenant_context(tenant), system_audit_context():
            if options["token_id"] is not None:
                tokens = list(ApiToken.objects.filter(pk=options["token_id"]))
                if not tokens:
                    raise CommandError(f"No token {options['token_id']} in {tenant.slug}.")
            else:
                ids = Membership.objects.filter(
                    tenant=tenant, user__email__iexact=options["all_for"]
                ).values_list("pk", flat=True)
                tokens = list(
                    ApiToken.objects.filter(membership_id__in=list(ids), revoked_at__isnull=True)
                )
            for token in tokens:
                try:
                    api_token_revoke(tenant=tenant, actor=None, token=token)
                except ValidationError as error:
                    raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Revoked {len(tokens)} token(s) in {tenant.slug}.")
