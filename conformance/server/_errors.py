"""The reference server's error answers: OpenAI-style envelopes and the document's 422 shape.

Every error goes through ``error_response``, so the ``html-error-page`` defect changes them
all at one place, and ``invalid-request-500`` every answer to a request that failed validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from conformance.contract._validation import Violation
from conformance.server._config import ServerConfig

_HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
    "<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p>"
    "</body></html>\n"
)
# Error types in the style of FastAPI (pydantic), by the JSON Schema keyword that failed.
_ERROR_TYPES = {
    "required": "missing",
    "minimum": "greater_than_equal",
    "maximum": "less_than_equal",
    "exclusiveMinimum": "greater_than",
    "exclusiveMaximum": "less_than",
    "minItems": "too_short",
    "maxItems": "too_long",
    "minLength": "string_too_short",
    "maxLength": "string_too_long",
    "const": "literal_error",
    "enum": "enum",
    "anyOf": "union_type",
    "oneOf": "union_type",
    "additionalProperties": "extra_forbidden",
}
_PATH_STEP = re.compile(r'\.([^.\[]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def error_response(
    config: ServerConfig,
    status: int,
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    kind: str = "invalid_request_error",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An OpenAI-style error (``error_body``), as the config's defects answer it."""
    body = error_body(message, kind=kind, code=code, param=param)
    return _answer(config, JSONResponse(body, status, headers=dict(headers or {})))


def bad_request(config: ServerConfig, message: str, param: str | None) -> Response:
    """The 400 OpenAI gives a request it will not serve (no ``code``), naming the field."""
    return error_response(config, 400, message, code=None, param=param)


def error_body(
    message: str, *, kind: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}``: every field present, as OpenAI's."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def validation_response(config: ServerConfig, detail: list[dict[str, Any]]) -> Response:
    """422 in the document's ``HTTPValidationError`` shape (or the defect's 500)."""
    if config.has("invalid-request-500"):
        return _answer(config, PlainTextResponse("Internal Server Error", 500))
    return _answer(config, JSONResponse({"detail": detail}, 422))


def not_json_response(config: ServerConfig, problem: dict[str, Any]) -> Response:
    """422 for a body that is not JSON (or not labelled JSON), or the defect's 500."""
    if config.has("not-json-500"):
        return _answer(config, PlainTextResponse("Internal Server Error", 500))
    return validation_response(config, [problem])


def _answer(config: ServerConfig, response: Response) -> Response:
    if config.has("html-error-page"):
        return HTMLResponse(_HTML_PAGE, 500)
    return response


def violation_detail(violation: Violation) -> dict[str, Any]:
    """One ``ValidationError`` entry: where in the body, what is wrong, and its kind."""
    loc: list[str | int] = ["body", *json_path_parts(violation.json_path)]
    kind = _ERROR_TYPES.get(violation.keyword, violation.keyword)
    expected = violation.expected if isinstance(violation.expected, dict) else {}
    if violation.keyword == "required":
        missing = expected.get("required")
        if isinstance(missing, list) and len(missing) == 1:
            missing = missing[0]
        if isinstance(missing, str):
            loc.append(missing)
    elif violation.keyword == "type":
        wanted = expected.get("type")
        kind = f"{wanted}_type" if isinstance(wanted, str) else "type_error"
    return {"loc": loc, "msg": violation.message, "type": kind}


def json_path_parts(json_path: str) -> list[str | int]:
    """``$.messages[0]["a b"]`` -> ``["messages", 0, "a b"]``: ``Violation.json_path`` undone."""
    parts: list[str | int] = []
    for name, index, quoted in _PATH_STEP.findall(json_path[1:]):
        if name:
            parts.append(name)
        elif index:
            parts.append(int(index))
        else:
            parts.append(json.loads(quoted))
    return parts
