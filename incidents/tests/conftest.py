import pytest

from incidents.health import health_forget


@pytest.fixture(autouse=True)
def _fresh_health_checks():
    """Each test sees the checks as they are now, not a result another test left behind."""
    health_forget()
    yield
    health_forget()
