import pytest

pytestmark = pytest.mark.django_db


def test_smoke(client_for):
    response = client_for("acme", "owner").get("/settings/verify/")
    print(response.content.decode()[-6000:])
    assert response.status_code == 200
