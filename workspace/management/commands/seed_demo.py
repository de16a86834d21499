"""``seed_demo``: create the demo workspaces (idempotent), used by `make run`."""

from django.core.management.base import BaseCommand

from docrequests.demo import demo_link_file
from workspace.demo import DEMO_PASSWORD_FILE, DEMO_WORKSPACES, demo_email, demo_password, demo_seed


class Command(BaseCommand):
    help = (
        "Create the demo workspaces acme and globex with one member per staff role, unless "
        "they exist. The password is generated once and kept in .local/demo-password."
    )

    def handle(self, *args, **options):
        password = demo_password()
        report = demo_seed(password=password)
        for slug, counts in report.items():
            created = ", ".join(f"{key} {value}" for key, value in counts.items() if value)
            self.stdout.write(f"{slug}: {'created ' + created if created else 'already seeded'}")
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Demo sign-in: {demo_email(next(iter(DEMO_WORKSPACES)), 'owner')} "
                f"(any staff role: owner, admin, manager, ...) with the password in "
                f"{DEMO_PASSWORD_FILE}"
            )
            # Like the password: the path of the file holding the link, never the link.
            link_file = demo_link_file(next(iter(DEMO_WORKSPACES)))
            if link_file.exists():
                self.stdout.write(f"A demo client's document-request link is in {link_file}")
