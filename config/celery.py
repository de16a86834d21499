"""Celery application.

Invariant: every task that touches tenant data is a :class:`kernel.tasks.TenantTask`, which
takes the tenant's schema name explicitly and sets it before the task body runs.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Every task's base is kernel.tasks.QueuedTask: a message the broker refuses is kept in
# PostgreSQL and sent again, never lost (tenants/outbox.py).
app = Celery("shopsafe", task_cls="kernel.tasks:QueuedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules that are not an app's top-level tasks.py.
app.autodiscover_tasks(["accounts.twofactor"])
