"""Password rules beyond Django's: an upper bound (NIST 800-63B allows long passphrases)."""

from django.core.exceptions import ValidationError

PASSWORD_TOO_LONG = "Use at most %(max_length)d characters."  # noqa: S105 - a message


class MaximumLengthValidator:
    def __init__(self, max_length: int = 128):
        self.max_length = max_length

    def validate(self, password: str, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                PASSWORD_TOO_LONG, code="password_too_long", params={"max_length": self.max_length}
            )

    def get_help_text(self) -> str:
        return PASSWORD_TOO_LONG % {"max_length": self.max_length}
