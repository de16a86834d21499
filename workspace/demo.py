"""Demo workspaces for `make run`: acme and globex, one member per staff role.

Invariant: the demo password is never part of the code. It is generated at random the first
time and kept in ``.local/demo-password`` (mode 0600, git-ignored); every later seed reuses
it, and a demo user whose password no longer matches the file is reset to it, so the
credentials `make run` prints always work. Seeding is idempotent: a second run creates
nothing new.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from accounts.models import User
from kernel.plugins import declared_callables
from kernel.roles import STAFF_ROLES
from rbac.models import Membership
from tenants.models import Tenant
from tenants.services import tenant_provision

logger = logging.getLogger(__name__)

DEMO_WORKSPACES: dict[str, str] = {"acme": "Acme Signs", "globex": "Globex Print & Display"}
DEMO_PASSWORD_FILE = Path(settings.LOCAL_STATE_DIR) / "demo-password"
DEMO_EMAIL_DOMAIN = "demo"


def demo_email(slug: str, role: str) -> str:
    return f"{role}@{slug}.{DEMO_EMAIL_DOMAIN}"


def demo_password(path: Path = DEMO_PASSWORD_FILE) -> str:
    """The demo password: read from ``path``, or generated and stored there (0600) once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two concurrent first runs cannot both write a different password.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        password = path.read_text().strip()
        if password:
            return password
        path.unlink()
        return demo_password(path)
    password = secrets.token_urlsafe(12)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    return password


def _business_seeders() -> list[Callable[..., dict[str, int]]]:
    """The demo seeders the business apps declare (``demo_seeder``, kernel.plugins)."""
    return declared_callables("demo_seeder")


def demo_seed(
    *, password: str, workspaces: dict[str, str] | None = None
) -> dict[str, dict[str, int]]:
    """Create whatever part of the demo is missing; returns counts per workspace.

    The counts say what this call created (``workspace``, ``users``, ``memberships``,
    ``passwords_reset``) plus whatever the business seeders report. Each seeder runs inside
    the workspace's schema on every seed, so business records appear even in a demo first
    seeded before a business app existed; like this function it creates only what is missing.
    """
    workspaces = workspaces if workspaces is not None else DEMO_WORKSPACES
    report: dict[str, dict[str, int]] = {}
    for slug, name in workspaces.items():
        with transaction.atomic():
            connection.set_schema_to_public()
            counts = {"workspace": 0, "users": 0, "memberships": 0, "passwords_reset": 0}
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                tenant = tenant_provision(slug=slug, name=name)
                counts["workspace"] = 1
            staff_users: dict[str, User] = {}
            for role in STAFF_ROLES:
                user, created = User.objects.get_or_create(
                    email=demo_email(slug, role.value),
                    defaults={"full_name": f"{name.split()[0]} {role.label}"},
                )
                if created or not user.check_password(password):
                    user.set_password(password)
                    user.save(update_fields=["password"])
                    counts["users" if created else "passwords_reset"] += 1
                _, created = Membership.objects.get_or_create(
                    user=user, tenant=tenant, defaults={"role": role.value}
                )
                counts["memberships"] += int(created)
                staff_users[role.value] = user
            for seeder in _business_seeders():
                with tenant_context(tenant):
                    counts.update(seeder(tenant=tenant, staff_users=staff_users) or {})
            connection.set_schema_to_public()
        report[slug] = counts
    return report
