"""Second-factor reads.

Invariant: "has 2FA" means exactly one thing everywhere (the gate, sign-in, the members page):
the user has a confirmed ``EncryptedTOTPDevice``. An enrollment that was started and never
confirmed does not count.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import EncryptedTOTPDevice, RecoveryCode


def user_has_2fa(user) -> bool:
    if user is None or not getattr(user, "pk", None):
        return False
    return EncryptedTOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def users_with_2fa(user_ids: Iterable[int]) -> set[int]:
    """The ids among ``user_ids`` that have 2FA on (one query, for lists of members)."""
    ids = {user_id for user_id in user_ids if user_id is not None}
    if not ids:
        return set()
    return set(
        EncryptedTOTPDevice.objects.filter(user_id__in=ids, confirmed=True).values_list(
            "user_id", flat=True
        )
    )


def totp_device_confirmed(user) -> EncryptedTOTPDevice | None:
    return EncryptedTOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def recovery_codes_remaining(user) -> int:
    return RecoveryCode.objects.filter(user_id=user.pk, used_at__isnull=True).count()
