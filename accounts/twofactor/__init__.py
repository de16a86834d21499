"""Two-factor authentication (TOTP + recovery codes), the half-signed-in state between the
password and the second factor, the workspace's "require 2FA" switch, and emailed one-time
codes that confirm irreversible actions (``action_codes``).

Invariant: no TOTP seed, recovery code or emailed code is ever stored in plain text: seeds are
Fernet-encrypted with keys from the environment (``crypto``), recovery codes are salted slow
hashes, emailed codes are keyed HMACs bound to their action and target.
"""
