"""Plain ``migrate`` (used by Django's test database set-up) runs our ``migrate_schemas``."""

from tenants.management.commands.migrate_schemas import Command  # noqa: F401
