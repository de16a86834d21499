"""The contract test: schemathesis, a tool we did not write, generates requests from the served
OpenAPI document and runs them in-process against the WSGI application, as an owner and as a
customer, with a bounded number of examples per operation. No response may be a server error,
and every response must match the document (status code, content type, body schema)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.schema_file import document
from api.tests.conftest import token_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Generated examples per operation, as before the API grew from 15 operations to 47 and then
# 59 (62 s here for 118 runs, against 55 s for 94 at 47), then 68 (136 runs, 40 s on -n 2; never
# fewer than 2: one example alone is little more than a smoke test). Only Hypothesis'
# "generate" phase runs: schemathesis' coverage phase (run through the "explicit" phase) adds
# boundary and negative cases for every parameter, unbounded by max_examples, and with 47
# operations it alone tripled the test's time (323 s against 92 s). It found nothing then;
# run it by hand with PHASES = tuple(Phase).
EXAMPLES_PER_OPERATION = 5
PHASES = (Phase.generate,)

schema = schemathesis.openapi.from_dict(document())
application = get_wsgi_application()


@pytest.fixture(scope="module", params=["owner", "customer"])
def role(request):
    return request.param


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the database connection when a request finishes; Django's own
    test client switches that off, and so must a WSGI call inside a test transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    phases=PHASES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_within_its_contract(case, role, acme):
    _token, secret = _secret(role)
    response = case.call(
        app=application,
        base_url="http://acme.localhost",
        headers={"Authorization": f"Bearer {secret}", "Host": "acme.localhost"},
    )
    case.validate_response(response, checks=CHECKS)


_SECRETS: dict[str, tuple] = {}


def _secret(role: str):
    # One token per role for the whole run (the database is rolled back per example group,
    # so the token is made inside it each time it is missing).
    from django_tenants.utils import tenant_context

    from api.models import ApiToken
    from tenants.models import Tenant

    acme = Tenant.objects.get(slug="acme")
    cached = _SECRETS.get(role)
    if cached is not None:
        with tenant_context(acme):
            if ApiToken.objects.filter(pk=cached[0].pk).exists():
                return cached
    _SECRETS[role] = token_for("acme", role)
    return _SECRETS[role]
