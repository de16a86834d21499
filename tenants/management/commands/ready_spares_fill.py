"""``manage.py ready_spares_fill [--count N]``: fill the pool of ready workspace schemas.

Owner side: needs ``DATABASE_OWNER_URL`` (the migrate job and the owner's worker have it).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenants.roles import owner_configured, owner_credentials
from tenants.services import ready_spares_fill


class Command(BaseCommand):
    help = "Clone the migrated template into ready spares that sign-up renames into place."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=None)

    def handle(self, *args, count=None, **options):
        count = settings.READY_SPARES if count is None else count
        if count < 0:
            raise CommandError("--count must be 0 or more")
        if not owner_configured():
            raise CommandError("DATABASE_OWNER_URL is not set: only the owner role fills spares")
        with owner_credentials():
            created = ready_spares_fill(count)
        self.stdout.write(f"{len(created)} spare(s) created, {count} wanted")
