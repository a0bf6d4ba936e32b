"""The defects of the feature areas (tools, response_format, logprobs, messages, errors,
reasoning), each applied where it belongs: refusing the request, changing what the toy
model is asked, changing its completion, or changing the body or chunks it is rendered to.

Every method is a no-op unless its defect is switched on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from starlette.responses import PlainTextResponse, Response

from conformance.contract._spec import Contract
from conformance.server._config import ServerConfig
from conformance.server._errors import bad_request
from conformance.server._generator import Choice, Completion, Params, generate

POISON_AFTER = 3  # invalid requests in a row that leave the next valid one broken


class FeatureDefects:
    """One server's feature defects, with the little state one of them needs."""

    def __init__(self, config: ServerConfig, contract: Contract) -> None:
        self.config = config
        self.known_fields = set(contract.schema("ChatCompletionRequest").get("properties", {}))
        self.invalid_in_a_row = 0  # schema-invalid requests since the last one served

    def note_invalid(self) -> None:
        """A request failed validation."""
        self.invalid_in_a_row += 1

    def refuse(self, body: dict[str, Any]) -> Response | None:
        """The refusal a switched-on defect gives this valid request, or None."""
        has = self.config.has
        poisoned = self.invalid_in_a_row >= POISON_AFTER
        self.invalid_in_a_row = 0
        if poisoned and has("invalid-request-poisons"):
            return PlainTextResponse("Internal Server Error", 500)
        unknown = sorted(set(body) - self.known_fields)
        if unknown and has("unknown-fields-500"):
            return PlainTextResponse("Internal Server Error", 500)
        if unknown and has("reject-unknown-fields"):
            message = f"Unrecognized request argument supplied: {unknown[0]}"
            return bad_request(self.config, message, unknown[0])
        if body.get("reasoning_effort") is not None and has("reasoning-effort-500"):
            return PlainTextResponse("Internal Server Error", 500)
        messages = body.get("messages")
        for i, message in enumerate(messages if isinstance(messages, list) else []):
            refused = self._refuse_message(i, message if isinstance(message, dict) else {})
            if refused is not None:
                return refused
        return None

    def _refuse_message(self, i: int, message: dict[str, Any]) -> Response | None:
        has, where = self.config.has, f"messages[{i}]"
        content = message.get("content")
        if message.get("role") == "system" and has("reject-system-role"):
            return bad_request(
                self.config, "System messages are not supported by this model.", f"{where}.role"
            )
        if isinstance(content, list) and has("reject-content-parts"):
            return bad_request(
                self.config,
                f"Invalid type for '{where}.content': expected a string, but got an array instead.",
                f"{where}.content",
            )
        if "name" in message and has("reject-message-name"):
            return bad_request(
                self.config, f"Unrecognized argument 'name' in '{where}'.", f"{where}.name"
            )
        if (
            message.get("role") == "assistant"
            and message.get("tool_calls")
            and content == ""
            and has("reject-empty-assistant-content")
        ):
            return bad_request(
                self.config,
                f"Invalid '{where}.content': empty string. Expected a non-empty string or null.",
                f"{where}.content",
            )
        return None

    def adjust(self, body: dict[str, Any], params: Params) -> Params:
        """What the toy model is asked, as a defective server misreads the request."""
        has = self.config.has
        names = [tool.name for tool in params.tools]
        if params.tool_choice == "required" and has("tool-choice-required-ignored"):
            params = replace(params, tool_choice="none")
        if params.tool_choice == "function" and has("tool-choice-named-wrong"):
            other = next((n for n in names if n != params.forced_tool), params.forced_tool)
            params = replace(params, forced_tool=other)
        if params.tool_choice == "none" and params.tools and has("tool-choice-none-ignored"):
            params = replace(params, tool_choice="required")
        if body.get("stream") is True and len(names) > 1 and has("tool-stream-other-tool"):
            if params.tool_choice == "required":
                calls = generate(params).choices[0].tool_calls
                chosen = calls[0].name if calls else None
                params = replace(params, tools=tuple(t for t in params.tools if t.name != chosen))
            elif params.tool_choice == "function":
                other = next(n for n in names if n != params.forced_tool)
                params = replace(params, forced_tool=other)
        if params.response_format == "json_object" and has("json-object-not-json"):
            params = replace(params, response_format="text")
        if params.response_format == "json_schema" and has("json-schema-off-schema"):
            params = replace(params, json_schema=None)  # answered as JSON mode: {"answer": ...}
        if body.get("logprobs") is False and has("logprobs-when-off"):
            params = replace(params, logprobs=True)
        return params

    def completion(self, completion: Completion) -> Completion:
        """The toy model's completion, as a defective server reports it."""
        choices = tuple(self._choice(choice) for choice in completion.choices)
        return replace(completion, choices=choices)

    def _choice(self, choice: Choice) -> Choice:
        has = self.config.has
        if choice.reasoning and choice.logprobs is None and has("reasoning-in-content"):
            tokens = ("<think>", *choice.reasoning, "</think>", *choice.tokens)
            choice = replace(choice, tokens=tokens, reasoning=())
        if choice.logprobs is None:
            return choice
        if has("logprobs-missing"):
            return replace(choice, logprobs=None)
        return replace(choice, logprobs=tuple(self._entry(e) for e in choice.logprobs))

    def _entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        has = self.config.has
        entry = dict(entry)
        if has("logprobs-positive"):
            entry["logprob"] = abs(entry["logprob"]) + 0.25
        if has("top-logprobs-unsorted"):
            entry["top_logprobs"] = list(reversed(entry["top_logprobs"]))
        if has("logprobs-bad-bytes"):
            entry["bytes"] = entry["bytes"][:-1]
            entry["top_logprobs"] = [{**t, "bytes": t["bytes"][:-1]} for t in entry["top_logprobs"]]
        return entry

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed body, as a defective server renders it."""
        for choice in payload.get("choices", []):
            for call in choice.get("message", {}).get("tool_calls") or []:
                if self.config.has("tool-call-no-id"):
                    del call["id"]
                self._arguments(call["function"], streamed=False)
        return payload

    def chunks(self, source: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Stream chunks, as a defective server renders them."""
        has = self.config.has
        for item in source:
            for choice in item.get("choices", []):
                delta = choice.get("delta", {})
                for call in delta.get("tool_calls") or []:
                    if has("tool-stream-no-index"):
                        call.pop("index", None)
                    self._arguments(call.get("function", {}), streamed=True)
                reasoning = delta.get("reasoning_content")
                if isinstance(reasoning, str) and has("reasoning-content-not-string"):
                    delta["reasoning_content"] = [{"type": "text", "text": reasoning}]
            yield item

    def _arguments(self, function: dict[str, Any], *, streamed: bool) -> None:
        arguments = function.get("arguments")
        if arguments == "{}" and self.config.has("empty-arguments-string"):
            function["arguments"] = ""
        elif (
            isinstance(arguments, str) and not streamed and self.config.has("tool-arguments-object")
        ):
            try:
                function["arguments"] = json.loads(arguments)
            except ValueError:  # arguments the cap cut: sent as an object of what was written
                function["arguments"] = {"partial": arguments}
