"""The defects of streamed tool calls and the identity fields of a streamed message (issue
19): parallel calls on one index, ids shared between calls, arguments repeated whole,
``role``/``id``/``name`` sent again in later deltas, and ``tool_calls: []`` without a call.

Each is applied to the rendered body or chunks, where a real server shows it; every method
is a no-op unless its defect is switched on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.server._config import ServerConfig
from conformance.server._render import ROLE

Key = tuple[object, object]  # (choice index, tool-call index) as rendered


class ToolDefects:
    """One server's tool-call and delta-identity defects."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed body: ``tool_calls: []`` in a message without calls."""
        if self.config.has("empty-tool-calls"):
            for choice in payload.get("choices", []):
                message = choice.get("message")
                if isinstance(message, dict) and not message.get("tool_calls"):
                    message["tool_calls"] = []
        return payload

    def chunks(self, source: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Stream chunks, as a defective server renders them (state: one stream)."""
        stream = _Stream(self.config)
        for item in source:
            for choice in item.get("choices", []):
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    stream.delta(choice.get("index"), delta)
            yield item


class _Stream:
    def __init__(self, config: ServerConfig) -> None:
        self.has = config.has
        self.opened: set[object] = set()  # choices whose first delta went out
        self.identity: dict[Key, tuple[object, object]] = {}  # the call's id and name
        self.arguments: dict[Key, str] = {}  # the arguments sent so far
        self.first_id: object = None  # the stream's first tool-call id

    def delta(self, choice: object, delta: dict[str, Any]) -> None:
        if choice in self.opened and self.has("repeat-delta-identity"):
            delta.setdefault("role", ROLE)
        self.opened.add(choice)
        content = delta.get("content")
        if isinstance(content, str) and "tool_calls" not in delta and self.has("empty-tool-calls"):
            delta["tool_calls"] = []
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                self.call((choice, call.get("index")), call)

    def call(self, key: Key, call: dict[str, Any]) -> None:
        function = call.setdefault("function", {})
        if "id" in call:  # the first delta of a call
            self.identity[key] = (call["id"], function.get("name"))
            if self.first_id is None:
                self.first_id = call["id"]
            elif self.has("tool-call-ids-shared"):
                call["id"] = self.first_id
        elif key in self.identity and self.has("repeat-delta-identity"):
            call_id, name = self.identity[key]
            call.update(id=call_id, type="function")
            function["name"] = name
        if self.has("tool-calls-one-index"):
            call["index"] = 0
        piece = function.get("arguments")
        if isinstance(piece, str):
            self.arguments[key] = self.arguments.get(key, "") + piece
            if self.has("tool-arguments-repeated"):
                function["arguments"] = self.arguments[key]
