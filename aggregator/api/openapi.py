"""The served OpenAPI document, with every bound in standard JSON Schema keywords.

Pydantic renders a bound it cannot attach to a type (``Field(gt=0)`` on an optional field, or
a bound after a validator function) under its own names ``gt``/``ge``/``lt``/``le``, which
validators and generated clients ignore. Input models here avoid that at the source; this pass
renames whatever is left, anywhere in the document, to what the server means by it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["NON_STANDARD_BOUNDS", "install_openapi", "standard_bounds"]

NON_STANDARD_BOUNDS = {
    "gt": "exclusiveMinimum",
    "ge": "minimum",
    "lt": "exclusiveMaximum",
    "le": "maximum",
}


def standard_bounds(node: Any, *, names: bool = False) -> Any:
    """``node`` with pydantic's bound keys renamed (``names``: ``node`` maps property names,
    whose keys are left alone)."""
    if isinstance(node, list):
        return [standard_bounds(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        renamed = key
        if not names and key in NON_STANDARD_BOUNDS and isinstance(value, int | float):
            renamed = NON_STANDARD_BOUNDS[key]
        out[renamed] = standard_bounds(value, names=key == "properties" and not names)
    return out


def install_openapi(app: FastAPI) -> None:
    """Serve ``app``'s generated document through :func:`standard_bounds` (built once)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = standard_bounds(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
