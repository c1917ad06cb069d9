"""The OpenAPI document as the server answers.

FastAPI documents a route's extra responses under the route's own media type, gives a route
with parameters a 422 of its own validation format, and lets an optional parameter be null.
None of it is what the server does: every error answer is a problem document
(app.api.problems), and a parameter left out is absent, not null. `install_openapi` has the
document say so, once, for every route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.api.problems import PROBLEM_MEDIA_TYPE
from app.api.schemas import Problem

_PROBLEM_REF = "#/components/schemas/Problem"
_FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")
_FRAMEWORK_REFS = {f"#/components/schemas/{name}" for name in _FRAMEWORK_SCHEMAS}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and /openapi.json) answer the corrected document."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems_as_served(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def problems_as_served(document: dict[str, Any]) -> dict[str, Any]:
    """The document with each error response's content as the problem+json the server sends,
    and FastAPI's own validation schemas gone."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _never_null(parameter.get("schema", {}))
            for status, response in operation.get("responses", {}).items():
                if _is_error(status) and _is_problem(response):
                    if response.get("description") == "Validation Error":
                        response["description"] = (
                            "The request is invalid: the problem names the field and the rule"
                        )
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_REF}}}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in schemas:
        schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas["Problem"] = schema
    for name in _FRAMEWORK_SCHEMAS:
        schemas.pop(name, None)
    return document


def _never_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the `null` FastAPI adds for an optional one: a path, query
    or header value is text, never null; an optional parameter is one that may be left out."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    others = [branch for branch in branches if branch != {"type": "null"}]
    if len(others) != 1 or len(others) == len(branches):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**others[0], **rest}


def _is_error(status: str) -> bool:
    return status[:1] in {"4", "5"}


def _is_problem(response: dict[str, Any]) -> bool:
    """Whether the response is (or should be) a problem: not one with a body of its own, such
    as the readiness probe's 503."""
    for media_type, content in response.get("content", {}).items():
        ref = content.get("schema", {}).get("$ref")
        if media_type == PROBLEM_MEDIA_TYPE or ref in _FRAMEWORK_REFS or ref == _PROBLEM_REF:
            continue
        if content.get("schema"):
            return False
    return True
