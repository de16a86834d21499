"""The demo `make run` seeds: idempotent, one member per staff role, no password in the code."""

from __future__ import annotations

import stat

import pytest

import desk.demo
import docrequests.demo
import shop.demo
from accounts.models import User
from kernel.roles import STAFF_ROLES
from rbac.models import Membership
from tenants.models import Tenant
from workspace import demo

DEMO = {"initech": "Initech Signs"}


def test_demo_password_is_random_stored_owner_only_and_reused(tmp_path):
    path = tmp_path / "demo-password"

    first = demo.demo_password(path)

    assert len(first) >= 16
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo.demo_password(path) == first
    assert demo.demo_password(tmp_path / "elsewhere") != first


def test_the_business_seeders_are_the_ones_the_shop_desk_and_docrequests_apps_provide():
    assert demo._business_seeders() == [
        shop.demo.seed_demo_records,
        desk.demo.seed_demo_records,
        docrequests.demo.seed_demo_records,
    ]


@pytest.fixture
def shop_seeder_calls(monkeypatch):
    """Replace the shop seeder with a recorder (the shop's own tests cover what it writes)."""
    calls = []

    def seeder(*, tenant, staff_users):
        from django.db import connection

        calls.append((tenant.slug, connection.schema_name, sorted(staff_users)))
        return {"companies": 3}

    monkeypatch.setattr(demo, "_business_seeders", lambda: [seeder])
    return calls


@pytest.mark.django_db
def test_seeding_creates_the_workspace_and_one_member_per_staff_role(shop_seeder_calls):
    report = demo.demo_seed(password="demo password for tests", workspaces=DEMO)

    assert report == {
        "initech": {
            "workspace": 1,
            "users": 9,
            "memberships": 9,
            "passwords_reset": 0,
            "companies": 3,
        }
    }
    tenant = Tenant.objects.get(slug="initech")
    assert tenant.name == "Initech Signs"
    assert sorted(
        Membership.objects.filter(tenant=tenant).values_list("user__email", "role")
    ) == sorted((f"{role.value}@initech.demo", role.value) for role in STAFF_ROLES)
    assert User.objects.get(email="owner@initech.demo").check_password("demo password for tests")
    # The shop seeder ran inside the workspace's schema with every staff user by role.
    assert shop_seeder_calls == [
        ("initech", "ws_initech", sorted(role.value for role in STAFF_ROLES))
    ]


@pytest.mark.django_db
def test_seeding_again_creates_nothing_and_repairs_a_changed_password(shop_seeder_calls):
    demo.demo_seed(password="demo password for tests", workspaces=DEMO)
    manager = User.objects.get(email="manager@initech.demo")
    manager.set_password("someone changed it")
    manager.save()

    report = demo.demo_seed(password="demo password for tests", workspaces=DEMO)

    assert report["initech"]["workspace"] == 0
    assert report["initech"]["users"] == 0
    assert report["initech"]["memberships"] == 0
    assert report["initech"]["passwords_reset"] == 1
    assert Tenant.objects.filter(slug="initech").count() == 1
    assert User.objects.filter(email__endswith="@initech.demo").count() == len(STAFF_ROLES)
    manager.refresh_from_db()
    assert manager.check_password("demo password for tests")
