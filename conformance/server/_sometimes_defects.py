"""The defects that show only sometimes, as real servers show theirs: on some requests, or
only when the model happened to write a stop text, or only when the cap cut the answer,
or only when a stream crossed a second. Each is applied where it belongs: misreading the
request, changing the completion, the body or the chunks.

Which requests a "some requests" defect hits is decided by the request's ``luck`` (a number
in [0, 1)), drawn from the request's randomness in the model-like mode; the toy mode's luck
is always 0, so a toy server shows such a defect on every request it can (deterministic,
whatever the probes send). Every method is a no-op unless its defect is switched on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from conformance.server._config import ServerConfig
from conformance.server._generator import Choice, Completion, Params
from conformance.server._model_generator import recut

USAGE_OFF_SHARE = 0.35  # usage-total-sometimes-off: the share of requests it hits
SCHEMA_OFF_SHARE = 0.4  # json-schema-sometimes-off: the share of requests it hits
TOOL_STOP_SHARE = 0.25  # tool-finish-sometimes-stop: the share of requests it hits
TOKEN_SECONDS = 0.01  # the model-like stream clock: 100 tokens a second
BOUNDARY_MARGIN = 0.045  # the model-like stream clock starts this long before a whole second


@dataclass(frozen=True)
class StreamClock:
    """When each chunk of one stream is stamped: ``created`` is the second the answer began;
    the chunks' clock starts just before the next whole second and advances one token time
    per chunk, so a stream of more than a few chunks crosses a second, whatever the
    machine's load and without waiting for the wall clock."""

    start: float

    @classmethod
    def now(cls) -> StreamClock:
        return cls(time.time())

    @property
    def created(self) -> int:
        return math.floor(self.start)

    def at(self, chunk: int) -> float:
        return self.created + 1 - BOUNDARY_MARGIN + chunk * TOKEN_SECONDS


class SometimesDefects:
    """One server's intermittent defects."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def adjust(self, params: Params, luck: float) -> Params:
        """The request as a defective server reads it."""
        has = self.config.has
        if params.tool_choice == "function" and has("tool-choice-named-as-auto"):
            params = replace(params, tool_choice="auto", forced_tool=None)
        if params.stop and has("stop-text-kept"):
            params = replace(params, stop=())  # cut later, after the stop text (completion)
        if (
            params.response_format == "json_schema"
            and luck < SCHEMA_OFF_SHARE
            and has("json-schema-sometimes-off")
        ):
            params = replace(params, json_schema=None)
        if params.limit is not None and has("max-tokens-off-by-one"):
            params = replace(params, limit=params.limit + 1)
        return params

    def completion(
        self, completion: Completion, stops: tuple[str, ...], luck: float = 0.0
    ) -> Completion:
        """stop-text-kept: each choice that wrote a stop text ends just after it;
        tool-finish-sometimes-stop: on a share of requests, a tool call finishes "stop"."""
        if luck < TOOL_STOP_SHARE and self.config.has("tool-finish-sometimes-stop"):
            completion = replace(
                completion,
                choices=tuple(
                    replace(c, finish_reason="stop") if c.tool_calls else c
                    for c in completion.choices
                ),
            )
        if not stops or not self.config.has("stop-text-kept"):
            return completion
        choices = tuple(_kept(choice, stops) for choice in completion.choices)
        return replace(completion, choices=choices)

    def body(self, payload: dict[str, Any], luck: float) -> dict[str, Any]:
        """A non-streamed body, as a defective server renders it."""
        self._usage(payload.get("usage"), luck)
        return payload

    def chunks(
        self, source: Iterator[dict[str, Any]], luck: float, clock: StreamClock
    ) -> Iterator[dict[str, Any]]:
        """Stream chunks, as a defective server renders them."""
        stamp: Callable[[int], float] | None = (
            clock.at if self.config.has("created-per-chunk") else None
        )
        for n, item in enumerate(source):
            self._usage(item.get("usage"), luck)
            if stamp is not None:
                item["created"] = math.floor(stamp(n))
            yield item

    def _usage(self, usage: object, luck: float) -> None:
        if (
            isinstance(usage, dict)
            and luck < USAGE_OFF_SHARE
            and self.config.has("usage-total-sometimes-off")
        ):
            usage["total_tokens"] += 1


def _kept(choice: Choice, stops: tuple[str, ...]) -> Choice:
    text = "".join(choice.tokens)
    found = [(text.find(s), s) for s in stops if s and s in text]
    if choice.tool_calls or not found:
        return choice
    start, stop = min(found)
    return recut(choice, start + len(stop), "stop")
