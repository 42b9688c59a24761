"""Placeholder replaced by the OpenAPI document."""
from typing import Any


def document(base_url: str) -> dict[str, Any]:
    return {"openapi": "3.0.3", "servers": [{"url": base_url}], "paths": {}}
