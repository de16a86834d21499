"""The only way to create platform support staff: ``manage.py create_support_agent EMAIL``.

There is no self-service path: the console refuses anyone without ``is_support_agent``, and
only this command sets it. The agent's TOTP device is enrolled here too (the console needs it
before it opens): the command prints the key and asks for a first code to confirm it.
"""

from __future__ import annotations

import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.twofactor.selectors import user_has_2fa
from accounts.twofactor.services import totp_enrollment_start
from support.services import support_agent_create


class Command(BaseCommand):
    help = "Create (or promote) a platform support agent and enrol their authenticator app."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--full-name", default="")
        parser.add_argument("--password", help="Prompted for when omitted.")
        parser.add_argument(
            "--skip-2fa",
            action="store_true",
            help="Do not enrol now; the console stays closed to them until you run this again.",
        )

    def handle(self, *args, email, full_name, password, skip_2fa, **options):
        if not password:
            password = getpass.getpass("Password: ")
        try:
            user = support_agent_create(email=email, full_name=full_name, password=password)
        except ValidationError as error:
            raise CommandError(error.messages[0]) from error
        self.stdout.write(f"Support agent {user.email} ready.")
        if skip_2fa or user_has_2fa(user):
            return
        enrollment = totp_enrollment_start(user=user)
        self.stdout.write(f"Add to the authenticator app: {enrollment.provisioning_uri}")
        self.stdout.write(f"or type the key: {enrollment.manual_key}")
        code = input("Code shown by the app: ")
        if not enrollment.device.verify_token(code):
            raise CommandError("That code is not right; run the command again.")
        with transaction.atomic():
            enrollment.device.confirmed = True
            enrollment.device.confirmed_at = timezone.now()
            enrollment.device.save(update_fields=["confirmed", "confirmed_at"])
        self.stdout.write("Two-factor authentication enrolled; the console is open to them.")
