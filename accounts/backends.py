"""Email and password sign-in: Django's ModelBackend, with failures that all cost the same.

Invariant: every failed password check (no such account, a wrong password, an inactive
account) spends at least as much hashing as a failed check of the costliest hash stored
(``accounts.hashers.failure_runtime_pad``), so while some accounts still hold hashes made with
costlier, retired parameters their addresses cannot be told apart by timing. Successes are not
padded: whoever knows the password learns nothing from the time it took.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from .hashers import failure_runtime_pad
from .models import User


class EmailPasswordBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            User().set_password(password)  # one hash at the current parameters, as Django
            failure_runtime_pad(password, None)
            return None
        checked = user.password
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        failure_runtime_pad(password, checked)
        return None
