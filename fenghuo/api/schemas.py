"""Responses built from the model's msgspec structs, published in the OpenAPI document.

Routes answer with `respond(caller, value)`: the struct as JSON, rewritten for the caller (other
tenants by pseudonym). `documented(Type)` declares that JSON body for a route's 200 answer and
registers the struct, whose JSON Schema (from msgspec, the same definition the code encodes with)
joins the OpenAPI components, so the model is described once.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from fenghuo.api.deps import Caller
from fenghuo.api.problems import PROBLEM_RESPONSES

_REF = "#/components/schemas/{name}"
_REGISTERED: dict[str, Any] = {}


def documented(
    kind: Any, description: str, *, status: int = 200, errors: tuple[int, ...] = (401, 403)
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route answering `kind` as JSON (plus the problem answers listed)."""
    name = getattr(kind, "__name__", str(kind))
    _REGISTERED[name] = kind
    schema = {"$ref": _REF.format(name=name)}
    responses: dict[int | str, dict[str, Any]] = {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }
    for code in (*errors, 422):
        responses[code] = PROBLEM_RESPONSES[code]
    return responses


def respond(caller: Caller | None, value: Any, status: int = 200) -> JSONResponse:
    doc = msgspec.to_builtins(value)
    if caller is not None:
        doc = caller.redactor.document(doc)
    return JSONResponse(doc, status_code=status)


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        _schemas, components = msgspec.json.schema_components(
            list(_REGISTERED.values()), ref_template=_REF
        )
        spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
        spec["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "a Fenghuo API key"}
        }
        spec["security"] = [{"bearer": []}]
        for path, operations in spec.get("paths", {}).items():
            for operation in operations.values():
                if not path.startswith("/api/v1/"):
                    operation["security"] = []
                if "requestBody" in operation:  # a body that is not JSON, or too large
                    for code in (400, 413):
                        operation["responses"].setdefault(str(code), PROBLEM_RESPONSES[code])
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
