"""Re-encrypt every stored TOTP seed with the newest key of TOTP_ENCRYPTION_KEYS.

Rotation: prepend the new key to TOTP_ENCRYPTION_KEYS and deploy (new seeds use it, old ones
still decrypt), run this command, then drop the old key. Safe to run again at any time.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.twofactor.services import totp_seeds_rotate


class Command(BaseCommand):
    help = "Re-encrypt every TOTP seed with the newest TOTP_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        result = totp_seeds_rotate()
        if result.unreadable:
            raise CommandError(
                f"{result.unreadable} seed(s) could not be decrypted with any configured key; "
                f"{result.rotated} re-encrypted. Do not drop old keys yet."
            )
        self.stdout.write(f"Re-encrypted {result.rotated} TOTP seed(s) with the newest key.")
