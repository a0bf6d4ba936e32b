"""Tool calls as a client sees them: read from a message, or reassembled from stream deltas.

Reassembling is what the SDKs do: deltas are grouped by their ``index``, the first delta of
an index gives ``id``, ``type`` and ``function.name``, and ``function.arguments`` fragments are
concatenated. Every way a stream makes that ambiguous is recorded as a ``Finding``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.checks._helpers import located, parse_body
from conformance.checks._model import Finding
from conformance.checks._support import deltas, messages
from conformance.contract._validation import type_name
from conformance.wire._exchange import Exchange


@dataclass
class Call:
    """One tool call: its parts as sent (``None`` when absent) and where it starts."""

    path: str  # JSON path of the call ($.choices[0].message.tool_calls[0])
    chunk_index: int | None
    id: object = None
    type: object = None
    name: object = None
    arguments: object = None
    choice: object = 0
    merged: bool = False  # a later delta on its index carried another id: two calls in one


@dataclass
class Reassembly:
    calls: list[Call] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    # identity fields a later delta of a call sent again, unchanged: ("id" or "name", finding)
    repeats: list[tuple[str, Finding]] = field(default_factory=list)
    ids: set[object] = field(default_factory=set)  # the distinct ids the deltas carried

    @property
    def parallel(self) -> bool:
        """Whether the stream carried two calls or more (by index or by id)."""
        return len(self.calls) > 1 or len(self.ids) > 1


def message_calls(exchange: Exchange) -> list[Call]:
    """The tool calls of every choice of a non-streamed answer."""
    payload, why = parse_body(exchange)
    if why is not None or not isinstance(payload, dict):
        return []
    out: list[Call] = []
    for position, message in messages(payload):
        tool_calls = message.get("tool_calls")
        for k, call in enumerate(tool_calls if isinstance(tool_calls, list) else []):
            path = f"$.choices[{position}].message.tool_calls[{k}]"
            if not isinstance(call, dict):
                out.append(Call(path, None, choice=position))
                continue
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            out.append(
                Call(
                    path,
                    None,
                    id=call.get("id"),
                    type=call.get("type"),
                    name=function.get("name"),
                    arguments=function.get("arguments"),
                    choice=position,
                )
            )
    return out


def reassemble(exchange: Exchange, declared: set[str]) -> Reassembly:
    """The tool calls of a stream, rebuilt from their deltas, and what was wrong with them."""
    out = Reassembly()
    calls: dict[tuple[object, int], Call] = {}
    fragments: dict[tuple[object, int], list[str]] = {}
    seen_per_choice: dict[object, int] = {}
    owners: dict[tuple[object, object], int] = {}  # (choice, id) -> the index it came under
    for delta in deltas(exchange):
        tool_calls = delta.delta.get("tool_calls")
        for k, item in enumerate(tool_calls if isinstance(tool_calls, list) else []):
            path = f"{delta.path}.tool_calls[{k}]"
            if not isinstance(item, dict):
                out.problems.append(
                    _problem(
                        "a tool-call delta is not an object",
                        path,
                        delta.chunk_index,
                        "an object",
                        type_name(item),
                    )
                )
                continue
            index = item.get("index")
            if not isinstance(index, int) or isinstance(index, bool):
                out.problems.append(
                    _problem(
                        "a tool-call delta has no integer index",
                        f"{path}.index",
                        delta.chunk_index,
                        "an integer index (0, 1, ...)",
                        index if "index" in item else "(missing)",
                    )
                )
                index = k  # as lenient clients do: the position in the list
            function = item.get("function")
            function = function if isinstance(function, dict) else {}
            key = (delta.choice_index, index)
            out.problems.extend(_owner_problems(owners, key, item, path, delta.chunk_index))
            if isinstance(item.get("id"), str) and item["id"]:
                out.ids.add(item["id"])
            call = calls.get(key)
            if call is None:
                expected_index = seen_per_choice.get(delta.choice_index, 0)
                if index != expected_index and "index" in item:
                    out.problems.append(
                        _problem(
                            "tool-call indices are not contiguous from 0",
                            f"{path}.index",
                            delta.chunk_index,
                            expected_index,
                            index,
                        )
                    )
                seen_per_choice[delta.choice_index] = max(expected_index, index + 1)
                call = Call(
                    path,
                    delta.chunk_index,
                    id=item.get("id"),
                    type=item.get("type"),
                    name=function.get("name"),
                    choice=delta.choice_index,
                )
                calls[key] = call
                fragments[key] = []
                out.calls.append(call)
                out.problems.extend(_first_delta_problems(call, declared))
            else:
                changed = _later_delta_problems(call, item, function, path, delta.chunk_index)
                out.problems.extend(changed)
                call.merged = call.merged or any(f.kind == CHANGED_ID for f in changed)
                if not call.merged:
                    out.repeats.extend(_repeats(call, item, function, path, delta.chunk_index))
            piece = function.get("arguments")
            if isinstance(piece, str):
                fragments[key].append(piece)
            elif piece is not None:
                out.problems.append(
                    _problem(
                        "a tool-call arguments fragment is not a string",
                        f"{path}.function.arguments",
                        delta.chunk_index,
                        "a string",
                        type_name(piece),
                    )
                )
    for key, call in calls.items():
        call.arguments = "".join(fragments[key])
    return out


def _first_delta_problems(call: Call, declared: set[str]) -> list[Finding]:
    out: list[Finding] = []
    if not isinstance(call.id, str) or not call.id:
        out.append(
            _problem(
                "the first delta of a tool call carries no id",
                f"{call.path}.id",
                call.chunk_index,
                "a non-empty string",
                call.id,
            )
        )
    if call.type != "function":
        out.append(
            _problem(
                'the first delta of a tool call carries no type "function"',
                f"{call.path}.type",
                call.chunk_index,
                "function",
                call.type,
            )
        )
    if not isinstance(call.name, str) or not call.name:
        out.append(
            _problem(
                "the first delta of a tool call carries no function name",
                f"{call.path}.function.name",
                call.chunk_index,
                "a declared function name",
                call.name,
            )
        )
    elif call.name not in declared:
        out.append(
            _problem(
                "a tool call names a function that was not declared",
                f"{call.path}.function.name",
                call.chunk_index,
                sorted(declared),
                call.name,
            )
        )
    return out


CHANGED_ID = "a later delta changes the tool call's id"
SHARED_ID = "one tool-call id under two indexes"
REPEATED_ID = "a later delta of a tool call sends its id again"
REPEATED_NAME = "a later delta of a tool call sends its function name again"


def _owner_problems(
    owners: dict[tuple[object, object], int],
    key: tuple[object, int],
    item: dict[str, Any],
    path: str,
    chunk_index: int,
) -> list[Finding]:
    """One index per id: an id already seen under another index of the choice names two
    calls (a client keyed by index gets both, with the same id for their results)."""
    call_id = item.get("id")
    if not isinstance(call_id, str) or not call_id:
        return []
    choice, index = key
    owner = owners.setdefault((choice, call_id), index)
    if owner == index:
        return []
    return [
        _problem(
            SHARED_ID,
            f"{path}.id",
            chunk_index,
            f"an id of its own (index {owner} has {call_id!r})",
            f"{call_id!r} under index {index}",
        )
    ]


def _repeats(
    call: Call, item: dict[str, Any], function: dict[str, Any], path: str, chunk_index: int
) -> list[tuple[str, Finding]]:
    """The identity fields a later fragment sends again (openai-python's stream helper
    concatenates every string it gets again: ``get_weatherget_weather``). ``type`` is left
    alone (the SDKs overwrite it) and so is an empty string (it joins to nothing)."""
    out: list[tuple[str, Finding]] = []
    if isinstance(item.get("id"), str) and item["id"] and item["id"] == call.id:
        out.append(("id", _problem(REPEATED_ID, f"{path}.id", chunk_index, "no id", call.id)))
    name = function.get("name")
    if isinstance(name, str) and name and name == call.name:
        where = f"{path}.function.name"
        out.append(("name", _problem(REPEATED_NAME, where, chunk_index, "no name", name)))
    return out


def _later_delta_problems(
    call: Call, item: dict[str, Any], function: dict[str, Any], path: str, chunk_index: int
) -> list[Finding]:
    """A later fragment may not change the id and name (sending them again is ``_repeats``)."""
    out: list[Finding] = []
    new_id = item.get("id")
    if new_id not in (None, "", call.id):
        out.append(
            _problem(
                CHANGED_ID,
                f"{path}.id",
                chunk_index,
                call.id,
                new_id,
            )
        )
    name = function.get("name")
    if name not in (None, "", call.name):
        out.append(
            _problem(
                "a later delta changes the tool call's function name",
                f"{path}.function.name",
                chunk_index,
                call.name,
                name,
            )
        )
    return out


def _problem(title: str, path: str, chunk_index: int | None, expected: Any, actual: Any) -> Finding:
    return located(title, (path, chunk_index), expected, actual)


def declared_tools(body: object) -> dict[str, object]:
    """Function name -> its ``parameters`` (None when it declares none), from the request."""
    tools = body.get("tools") if isinstance(body, dict) else None
    out: dict[str, object] = {}
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            out[function["name"]] = function.get("parameters")
    return out


def strict_tools(body: object) -> set[str]:
    """The names of the request's functions declared ``strict: true``: only their
    arguments are guaranteed to follow their parameters."""
    tools = body.get("tools") if isinstance(body, dict) else None
    out: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("strict") is True:
            out.add(str(function.get("name")))
    return out
