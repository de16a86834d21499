"""The server-error handler: a dependency that is briefly down is a 503, anything else a 500.

The end-to-end proof with a killed PostgreSQL connection is tests/test_database_outage.py;
these call the handler the way Django does, inside the handling of an exception.
"""

from __future__ import annotations

import json
import logging

import pytest
import redis
from django.db import OperationalError
from django.test import RequestFactory

from kernel.errors import server_error


def handled(error: Exception, accept: str = "text/html"):
    request = RequestFactory().get("/companies/", HTTP_ACCEPT=accept)
    try:
        raise error
    except Exception:
        return server_error(request)


def test_redis_refusing_the_rate_limiters_alias_is_answered_503_never_500(caplog):
    response = handled(redis.exceptions.ConnectionError("Error 111 connecting to redis:6379."))

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert response["Cache-Control"] == "no-store"
    assert b"<h1>Shopsafe is briefly unavailable</h1>" in response.content
    [line] = caplog.records
    assert (line.name, line.levelno) == ("kernel.errors", logging.WARNING)
    assert line.getMessage() == "GET /companies/ 503 (redis unavailable: ConnectionError)"
    assert line.exc_info is None


def test_a_database_error_asked_for_as_json_is_a_problem_document():
    response = handled(OperationalError("connection refused"), accept="application/json")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["status"] == 503


@pytest.mark.parametrize(
    "error", [ValueError("a bug"), redis.exceptions.ResponseError("WRONGTYPE")]
)
def test_any_other_error_is_still_the_500_page(error):
    response = handled(error)

    assert response.status_code == 500
    assert b"Something went wrong" in response.content
