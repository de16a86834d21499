"""Celery application.

Invariant: every task that touches tenant data is a :class:`workspace.tasks.TenantTask`, which
takes the tenant's schema name explicitly and sets it before the task body runs.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("shopsafe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules that are not an app's top-level tasks.py.
app.autodiscover_tasks(["accounts.twofactor"])
