"""The OpenAPI document as committed (``api/openapi.json``) and served (``/api/v1/openapi.json``).

One function makes it, so what is reviewed in the repository is byte for byte what clients
get; ``manage.py api_schema`` writes it and a test fails when the committed copy is stale.
"""

from __future__ import annotations

import json
from pathlib import Path

PREFIX = "/api/v1"
COMMITTED = Path(__file__).resolve().parent / "openapi.json"


def document() -> dict:
    from .v1 import api

    schema = dict(api.get_openapi_schema(path_prefix=PREFIX))
    # Errors are problem documents (RFC 9457): say so in the contract, as they are served.
    for operations in schema["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
    return schema


def document_json() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
