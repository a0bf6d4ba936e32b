"""The defects of stream framing, chunk envelope, usage, finish_reason and the sampling
parameters, each applied where it belongs: refusing the request, misreading it, changing
the completion, or changing the body, the chunks or the bytes of the event stream.

Every method is a no-op unless its defect is switched on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from starlette.responses import Response

from conformance.server._config import ServerConfig
from conformance.server._errors import bad_request
from conformance.server._generator import Choice, Completion, Params

CACHED_EXTRA = 5  # cached-over-prompt: cached_tokens is prompt_tokens + this


class StreamDefects:
    """One server's stream, usage, finish_reason and sampling defects."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def refuse(self, body: dict[str, Any]) -> Response | None:
        """The 400 a switched-on defect gives this valid request, or None."""
        if "seed" in body and self.config.has("reject-seed"):
            return bad_request(self.config, "Unrecognized request argument supplied: seed", "seed")
        if body.get("top_p") == 0 and self.config.has("reject-top-p-zero"):
            return bad_request(self.config, "top_p must be in (0, 1], got 0.", "top_p")
        return None

    def adjust(self, params: Params) -> Params:
        """The request as a defective server reads it: caps, stop or n left out."""
        if self.config.has("ignore-max-tokens"):
            params = replace(params, limit=None)
        if self.config.has("ignore-stop"):
            params = replace(params, stop=())
        if self.config.has("n-ignored"):
            params = replace(params, n=1)
        return params

    def completion(self, completion: Completion) -> Completion:
        """The finish_reasons a defective server reports."""
        choices = tuple(self._finish(choice) for choice in completion.choices)
        return replace(completion, choices=choices)

    def _finish(self, choice: Choice) -> Choice:
        has, reason = self.config.has, choice.finish_reason
        if reason == "length" and has("length-as-stop"):
            reason = "stop"
        if reason == "tool_calls" and has("tool-calls-finish-stop"):
            reason = "stop"
        if reason == "stop" and has("bad-finish-reason"):
            reason = "eos"
        return replace(choice, finish_reason=reason)

    def streams(self, body: dict[str, Any]) -> bool:
        """Whether the answer is an event stream (``stream`` is false when omitted)."""
        if self.config.has("stream-by-default"):
            return body.get("stream") is not False
        return body.get("stream") is True

    def include_usage(self, asked: bool) -> bool:
        return asked or self.config.has("unrequested-usage")

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed body, as a defective server renders it."""
        self._usage(payload.get("usage"), streamed=False)
        if self.config.has("role-user-answer"):
            for choice in payload.get("choices", []):
                choice["message"]["role"] = "user"
        return payload

    def _usage(self, usage: object, *, streamed: bool) -> None:
        if not isinstance(usage, dict):
            return
        if self.config.has("cached-over-prompt"):
            cached = usage["prompt_tokens"] + CACHED_EXTRA
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        if streamed and self.config.has("stream-usage-differs"):
            usage["prompt_tokens"] += 1
            usage["total_tokens"] += 1

    def chunks(self, source: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Stream chunks, as a defective server renders them."""
        has = self.config.has
        if has("usage-chunk-with-choices"):
            source = _usage_on_last_content(source)
        for n, item in enumerate(source):
            self._usage(item.get("usage"), streamed=True)
            if has("unstable-chunk-id"):
                item["id"] = f"{item['id']}-{n}"
            if has("wrong-chunk-object"):
                item["object"] = "chat.completion"
            for choice in item.get("choices", []):
                if has("no-delta-role"):
                    choice["delta"].pop("role", None)
            yield item
            if has("double-finish"):
                yield from self._again(item)

    def _again(self, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """double-finish: a finishing choice's finish_reason sent once more, on its own."""
        for choice in item.get("choices", []):
            if choice.get("finish_reason") is not None:
                delta = {"role": "assistant"} if self.config.profile == "strict" else {}
                again = {**choice, "delta": delta, "logprobs": None}
                yield {**item, "choices": [again], "usage": None}

    def frame(self, event: bytes) -> bytes:
        """glued-events: a chunk event not ended by a blank line (the next one follows it)."""
        return event[:-1] if self.config.has("glued-events") else event

    def before_done(self) -> bytes:
        """glued-events: the blank line that ends the glued chunks, before ``[DONE]``."""
        return b"\n" if self.config.has("glued-events") else b""


def _usage_on_last_content(source: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """usage-chunk-with-choices: the usage chunk's usage moved onto the chunk before it."""
    held: dict[str, Any] | None = None
    for item in source:
        if held is not None and item["usage"] is not None and not item["choices"]:
            held["usage"] = item["usage"]
            yield held
            held = None
            continue
        if held is not None:
            yield held
        held = item
    if held is not None:
        yield held
