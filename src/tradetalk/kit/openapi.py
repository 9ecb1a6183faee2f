"""The OpenAPI document as the API behaves: every error is problem+json, bounds are exact."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tradetalk.errors import PROBLEM_JSON
from tradetalk.kit.schemas import Problem, ValidationProblem

_COMPONENT = "#/components/schemas/{model}"
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
# FastAPI documents its own 422 with these; the app answers ValidationProblem instead.
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def install(app: FastAPI) -> None:
    """Make `app.openapi()` (and /openapi.json) describe error responses as they are sent."""
    generate = app.openapi
    shaped: list[int] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        # FastAPI caches the document; shape each generated one once.
        if id(document) not in shaped:
            _shape(document)
            shaped[:] = [id(document)]
        return document

    setattr(app, "openapi", openapi)  # noqa: B010  (a method cannot be assigned otherwise)


def _shape(document: dict[str, Any]) -> None:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, ValidationProblem):
        generated = model.model_json_schema(ref_template=_COMPONENT)
        schemas.update(generated.pop("$defs", {}))
        schemas[model.__name__] = generated
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method in _METHODS:
                _document_problems(operation)
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    _exact_bounds(document)


def _document_problems(operation: dict[str, Any]) -> None:
    """Errors are application/problem+json; 401 wherever a credential is asked for, 422
    wherever there is input to refuse."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if operation.get("security") and "401" not in responses:
        responses["401"] = {"description": "No valid credential."}
    if (operation.get("parameters") or operation.get("requestBody")) and "422" not in responses:
        responses["422"] = {"description": "Invalid input."}
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        model = ValidationProblem if status == "422" else Problem
        response["content"] = {
            PROBLEM_JSON: {"schema": {"$ref": _COMPONENT.format(model=model.__name__)}}
        }
        if response.get("description") == "Validation Error":
            response["description"] = "Invalid input (`validation_error`, with `errors`)."


def _exact_bounds(node: Any) -> None:
    """FastAPI writes integer bounds as floats (`1.0`); write whole numbers as integers."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _BOUNDS and isinstance(value, float) and value.is_integer():
                node[key] = int(value)
            else:
                _exact_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _exact_bounds(value)
