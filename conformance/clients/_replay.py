"""Replay recorded exchanges through every tested client and compare what each one read.

Nothing is sent over the network: each client's transport hook returns the recorded bytes.
The Python clients run in this process; the Node clients (openai-node, the Vercel AI SDK) run
in one ``node`` process per replay (``_node``). A client that is not installed is skipped
with the reason and the line that installs it.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.clients import _node, _python
from conformance.clients._compare import Difference, compare
from conformance.clients._reading import Reading, suite_reading
from conformance.wire._exchange import Exchange

# Words of a client's error message and the field they name (its own words, not a guess at
# its code): "missing role for choice 0" is about role.
ERROR_WORDS = (
    ("role", "role"),
    ("tool_call", "tool_calls"),
    ("tool call", "tool_calls"),
    ("finish_reason", "finish_reason"),
    ("logprobs", "logprobs"),
    ("usage", "usage"),
)
DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
CLIENTS = (_python.OPENAI_PYTHON, _python.LANGCHAIN, _node.OPENAI_NODE, _node.AI_SDK)


@dataclass
class ClientRun:
    """One client reading one exchange in one mode."""

    exchange: str
    client: str
    version: str
    mode: str
    error: dict[str, str] | None = None  # {"type", "message"} of what the client raised
    differences: list[Difference] = field(default_factory=list)
    chunk_index: int | None = None  # the event after which the client raised, when located

    @property
    def broken(self) -> bool:
        return self.error is not None or bool(self.differences)

    @property
    def topics(self) -> set[str]:
        """What it got wrong: the fields' names ("role", "tool_calls"), and for an exception
        "exception" plus the fields its message names ("missing role for choice 0")."""
        found = {d.topic for d in self.differences}
        if self.error is not None:
            message = self.error.get("message", "").lower()
            found |= {"exception"} | {t for w, t in ERROR_WORDS if w in message}
        return found

    @property
    def events(self) -> set[int]:
        found = {d.chunk_index for d in self.differences if d.chunk_index is not None}
        return found | ({self.chunk_index} if self.chunk_index is not None else set())

    def what(self) -> str:
        """What went wrong, in one line: "role 'assistantassistant' (should be 'assistant')"."""
        if self.error is not None:
            at = f" at event {self.chunk_index}" if self.chunk_index is not None else ""
            return f"{self.error['type']}{at}: {self.error['message'][:100]}"
        return "; ".join(d.describe() for d in self.differences[:3])

    def to_dict(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "client": self.client,
            "version": self.version,
            "mode": self.mode,
            "ok": not self.broken,
            "error": self.error,
            "chunk_index": self.chunk_index,
            "differences": [d.to_dict() for d in self.differences],
            "what": self.what() if self.broken else None,
        }


@dataclass
class ClientStatus:
    """A tested client: its version, or why it was not run (and how to install it)."""

    name: str
    version: str | None = None
    skipped: str | None = None
    error: str | None = None  # the runner itself broke (Node): the replay is inconclusive

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "skipped": self.skipped,
            "error": self.error,
        }


@dataclass
class Replay:
    """Every client's reading of every replayed exchange."""

    clients: list[ClientStatus]
    runs: list[ClientRun]
    exchanges: list[str]  # the ids replayed
    duration_s: float = 0.0

    def breaks(self) -> list[ClientRun]:
        return [r for r in self.runs if r.broken]

    def tested(self) -> list[str]:
        return [c.name for c in self.clients if c.skipped is None and c.error is None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "clients": [c.to_dict() for c in self.clients],
            "exchanges": list(self.exchanges),
            "runs": [r.to_dict() for r in self.runs],
            "duration_s": round(self.duration_s, 3),
        }


def replayable(exchange: Exchange) -> bool:
    """A whole 2xx chat-completions answer the suite can read (a refusal is not a reading)."""
    return (
        exchange.ok
        and not exchange.body_truncated
        and exchange.decoding is None
        and isinstance(exchange.request.body, dict)
        and "messages" in exchange.request.body
        and suite_reading(exchange) is not None
    )


def recorded(exchange: Exchange, body: bytes | None = None) -> _python.Recorded:
    """What a client's transport returns for ``exchange`` (``body`` replaces its bytes)."""
    headers = [(k, v) for k, v in exchange.headers.items() if k.lower() not in DROPPED_HEADERS]
    request = exchange.request.body if isinstance(exchange.request.body, dict) else None
    return _python.Recorded(
        exchange.status or 200,
        headers,
        exchange.body if body is None else body,
        exchange.streamed,
        request,
    )


class Warm:
    """What a replay needs, started before the run's checks end: the Node process (its
    clients load meanwhile, on another core) and the Python clients' imports (in a thread:
    the run mostly waits on the network). ``replay(..., warm=)`` uses it; ``close`` ends it."""

    def __init__(self, node_dir: Path | None = None, clients: Sequence[str] = CLIENTS) -> None:
        self.clients = tuple(clients)
        self.node = (
            _node.Runner(node_dir or _node.DEFAULT_DIR)
            if any(c in NODE_CLIENTS for c in clients)
            else None
        )
        self._imports = threading.Thread(target=_python.preload, args=(clients,), daemon=True)
        self._imports.start()

    def wait(self) -> None:
        self._imports.join()

    def close(self) -> None:
        if self.node is not None:
            self.node.close()


NODE_CLIENTS = (_node.OPENAI_NODE, _node.AI_SDK)
# Clients that read one choice per request (they cannot ask for more): an answer to n > 1
# is not theirs to read (both merge the choices of a stream into one message).
ONE_CHOICE = (_python.LANGCHAIN, _node.AI_SDK)


def several_choices(exchange: Exchange) -> bool:
    body = exchange.request.body if isinstance(exchange.request.body, dict) else {}
    n = body.get("n")
    return isinstance(n, int) and not isinstance(n, bool) and n > 1


def replay(
    exchanges: Iterable[Exchange],
    *,
    node_dir: Path | None = None,
    clients: Sequence[str] = CLIENTS,
    warm: Warm | None = None,
) -> Replay:
    """Feed every replayable exchange to every tested client; compare each reading.
    The Node clients read in their own process while the Python clients read here."""
    started = time.perf_counter()
    chosen = [e for e in exchanges if replayable(e)]
    if warm is None:
        warm = Warm(node_dir, clients)
    clients = warm.clients
    node_clients = [c for c in clients if c in NODE_CLIENTS]
    node_result: list[_node.NodeOutcome] = []
    feeder = None
    if warm.node is not None:
        runner = warm.node
        feeder = threading.Thread(
            target=lambda: node_result.append(runner.finish(chosen, recorded)), daemon=True
        )
        feeder.start()
    warm.wait()
    statuses: list[ClientStatus] = []
    runs: list[ClientRun] = []
    for name in (c for c in clients if c in _python.PINS):
        version = _python.version(name)
        if version is None:
            why = f"{name} is not installed; install it with: pip install {_python.PINS[name]}"
            statuses.append(ClientStatus(name, skipped=why))
            continue
        statuses.append(ClientStatus(name, version))
        built = _python.Clients()
        for exchange in chosen:
            runs.extend(_python_runs(name, version, exchange, built))
    if feeder is not None:
        feeder.join()
        node = node_result[0] if node_result else _node.NodeOutcome(error="the runner broke")
        for name in node_clients:
            statuses.append(
                ClientStatus(
                    name,
                    node.versions.get(name),
                    skipped=node.skipped,
                    error=node.error,
                )
            )
        wanted = {e.id: e for e in chosen}
        for line in node.lines:
            if line.client in node_clients and line.exchange in wanted:
                if line.client in ONE_CHOICE and several_choices(wanted[line.exchange]):
                    continue
                runs.append(_judged_node(line, wanted[line.exchange]))
    return Replay(statuses, runs, [e.id for e in chosen], time.perf_counter() - started)


def _python_runs(
    name: str, version: str, exchange: Exchange, built: _python.Clients
) -> list[ClientRun]:
    if name in ONE_CHOICE and several_choices(exchange):
        return []
    want = suite_reading(exchange)
    assert want is not None  # noqa: S101 - replayable() read it
    out = []
    for mode, read in _python.modes(name, exchange.streamed, built).items():
        run = ClientRun(exchange.id, name, version, mode)
        try:
            run.differences = compare(want, _quietly(read, recorded(exchange)))
        except Exception as exc:
            run.error = {"type": type(exc).__name__, "message": str(exc)}
            if exchange.streamed:
                run.chunk_index = _locate(exchange, read, type(exc).__name__)
        out.append(run)
    return out


def _quietly(read: _python.Mode, answer: _python.Recorded) -> Reading:
    """``read(answer)`` with the client's own warnings (pydantic's, on a list where its type
    says str) kept out of the run's: what it read is compared instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(answer)


def _locate(exchange: Exchange, read: _python.Mode, error: str) -> int | None:
    """The first event after which the client raises ``error`` (bisecting the stream)."""
    events = exchange.data_events()

    def raises(count: int) -> bool:
        body = b"".join(f"data: {e.data}\n\n".encode() for e in events[:count])
        try:
            _quietly(read, recorded(exchange, body + b"data: [DONE]\n\n"))
        except Exception as exc:
            return type(exc).__name__ == error
        return False

    if not events or not raises(len(events)):
        return None
    low, high = 0, len(events)  # raises(high); not known for low
    while high - low > 1:
        middle = (low + high) // 2
        if raises(middle):
            high = middle
        else:
            low = middle
    return events[high - 1].index


def _judged_node(line: _node.Line, exchange: Exchange) -> ClientRun:
    run = ClientRun(exchange.id, line.client, line.version, line.mode, error=line.error)
    if line.error is None:
        want = suite_reading(exchange)
        if want is not None and line.reading is not None:
            run.differences = compare(want, line.reading)
        elif line.reading is None:
            run.error = {"type": "NoReading", "message": "the runner returned no reading"}
    return run


__all__ = ["ClientRun", "ClientStatus", "Reading", "Replay", "recorded", "replay", "replayable"]
