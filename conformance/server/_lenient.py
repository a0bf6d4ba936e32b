"""Servers that are lenient or particular the way real ones are (issue 19): a pydantic-style
server that coerces what it can, a server that follows a tool's parameters only under
``strict: true``, and a model that refuses ``max_tokens`` and sampling parameters as
OpenAI's reasoning models do. Each is a no-op unless its switch is on.
"""

from __future__ import annotations

import copy
from typing import Any

from starlette.responses import Response

from conformance.server._config import ServerConfig
from conformance.server._errors import error_response

KNOWN_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
COERCED = ("max_tokens", "max_completion_tokens", "n")  # integer fields read from "8"
# What OpenAI's reasoning models refuse (400, code unsupported_parameter / unsupported_value).
REASONING_REFUSES = ("stop", "logprobs", "top_logprobs")


class Lenient:
    """One server's leniencies and particularities."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def coerce(self, body: object) -> object:
        """lenient-coercion: ``"8"`` read as 8 for integer fields, an unknown role as user."""
        if not isinstance(body, dict) or not self.config.has("lenient-coercion"):
            return body
        out = dict(body)
        for name in COERCED:
            value = out.get(name)
            if isinstance(value, str) and value.strip().isdigit():
                out[name] = int(value)
        messages = out.get("messages")
        if isinstance(messages, list):
            out["messages"] = [
                {**m, "role": "user"}
                if isinstance(m, dict)
                and isinstance(m.get("role"), str)
                and m["role"] not in KNOWN_ROLES
                else m
                for m in messages
            ]
        return out

    def loosen(self, body: dict[str, Any]) -> dict[str, Any]:
        """tool-arguments-loose: the body as a server that follows a function's parameters
        only under ``strict: true`` reads it: every other function's properties renamed, so
        its arguments miss the required ones."""
        if not self.config.has("tool-arguments-loose") or not isinstance(body.get("tools"), list):
            return body
        out = copy.deepcopy(body)
        for tool in out["tools"]:
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or function.get("strict") is True:
                continue
            parameters = function.get("parameters")
            if not isinstance(parameters, dict):
                continue
            props = parameters.get("properties")
            if isinstance(props, dict) and props:
                parameters["properties"] = {f"{k}_loose": v for k, v in props.items()}
                parameters["required"] = [f"{k}_loose" for k in props]
        return out

    def refuse(self, body: dict[str, Any]) -> Response | None:
        """reasoning-model: OpenAI's reasoning models' refusals: ``max_tokens`` (use
        ``max_completion_tokens``), a temperature other than 1, ``stop`` and ``logprobs``."""
        if not self.config.has("reasoning-model"):
            return None
        if "max_tokens" in body:
            return self._unsupported(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        temperature = body.get("temperature")
        if isinstance(temperature, int | float) and temperature != 1:
            return self._unsupported(
                f"Unsupported value: 'temperature' does not support {temperature} with this "
                "model. Only the default (1) value is supported.",
                "temperature",
                "unsupported_value",
            )
        for name in REASONING_REFUSES:
            if body.get(name) not in (None, False):
                return self._unsupported(
                    f"Unsupported parameter: '{name}' is not supported with this model.",
                    name,
                    "unsupported_parameter",
                )
        return None

    def _unsupported(self, message: str, param: str, code: str) -> Response:
        return error_response(self.config, 400, message, code=code, param=param)
