"""Grant or revoke the platform capability to manage incidents (``incidents:manage``).

The support console has no page for it: like making a support agent
(``create_support_agent``), it is an operator's decision, audited in the platform stream.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from incidents.services import incident_capability_set


class Command(BaseCommand):
    help = "Grant (or --revoke) the incidents:manage platform capability to a support agent."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, **options):
        user = User.objects.filter(email=options["email"].strip().lower()).first()
        if user is None:
            raise CommandError("No account with that email.")
        try:
            changed = incident_capability_set(user=user, granted=not options["revoke"])
        except ValidationError as error:
            raise CommandError(error.messages[0]) from error
        state = "revoked" if options["revoke"] else "granted"
        self.stdout.write(f"incidents:manage {state}" if changed else "nothing to change")
