"""Replay recorded exchanges through every tested client and compare what each one read.

Nothing is sent over the network: each client's transport hook returns the recorded bytes.
The Python clients run in this process; the Node clients (openai-node, the Vercel AI SDK) run
in one ``node`` process per replay (``_node``). A client that is not installed is skipped
with the reason and the line that installs it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.clients import _node, _python
from conformance.clients._compare import Difference, compare
from conformance.clients._process import Worker
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
TIMEOUT = "ReplayTimeout"  # the Node runner's word for a client that did not finish in time


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
    try:
        return _replayable(exchange)
    except ValueError:  # JSON too deep to judge: the checks say so; nothing to replay
        return False


def _replayable(exchange: Exchange) -> bool:
    return (
        exchange.ok
        and not exchange.body_truncated
        and exchange.decoding is None
        and exchange.too_deep() is None  # not judged by the checks: nothing to compare with
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


NODE_CLIENTS = (_node.OPENAI_NODE, _node.AI_SDK)
PYTHON_CLIENTS = (_python.OPENAI_PYTHON, _python.LANGCHAIN)
# Clients that read one choice per request (they cannot ask for more): an answer to n > 1
# is not theirs to read (both merge the choices of a stream into one message).
ONE_CHOICE = (_python.LANGCHAIN, _node.AI_SDK)


def several_choices(exchange: Exchange) -> bool:
    body = exchange.request.body if isinstance(exchange.request.body, dict) else {}
    n = body.get("n")
    return isinstance(n, int) and not isinstance(n, bool) and n > 1


class Warm:
    """The client runners of one replay, started before the run's checks end (their clients
    load meanwhile) and fed each answer as it is recorded (``feed``): two processes, the
    Python clients' (``_worker``) and the Node clients' (``node/replay.mjs``), on other cores
    than the run. ``replay(..., warm=)`` finishes them; ``close`` ends them if it never does."""

    def __init__(
        self,
        node_dir: Path | None = None,
        clients: Sequence[str] = CLIENTS,
        *,
        in_process: bool = False,
    ) -> None:
        """``in_process``: the Python clients read here, when ``finish`` is called (a replay
        of answers already recorded: no process to start, imports made once per process)."""
        self.clients = tuple(clients)
        self.statuses: dict[str, ClientStatus] = {}
        self.workers: dict[str, Worker] = {}  # "python" / "node"
        self.fed: set[str] = set()
        self.in_process: list[dict[str, Any]] | None = [] if in_process else None
        installed = []
        for name in (c for c in clients if c in PYTHON_CLIENTS):
            found = _python.version(name)
            if found is None:
                why = f"{name} is not installed; install it with: pip install {_python.PINS[name]}"
                self.statuses[name] = ClientStatus(name, skipped=why)
            else:
                installed.append(name)
                self.statuses[name] = ClientStatus(name, found)
        self.installed = installed
        if installed and self.in_process is None:
            command = [sys.executable, "-m", "conformance.clients._worker", *installed]
            self.workers["python"] = Worker(command)
        node = [c for c in clients if c in NODE_CLIENTS]
        if node:
            command_line, cannot = _node.command(node_dir or _node.DEFAULT_DIR)
            for name in node:
                self.statuses[name] = ClientStatus(name, skipped=cannot)
            if command_line is not None:
                self.workers["node"] = Worker(command_line, cwd=node_dir or _node.DEFAULT_DIR)

    def feed(self, exchange: Exchange) -> None:
        """Hand ``exchange`` to the runners now, if it is a readable answer not fed yet."""
        if exchange.id in self.fed or not replayable(exchange):
            return
        self.fed.add(exchange.id)
        line = _node.protocol_line(exchange, recorded(exchange))
        for worker in self.workers.values():
            worker.send(line)
        if self.in_process is not None:
            self.in_process.append(line)

    def finish(self) -> list[_node.Line]:
        """Every reading the runners made; a runner that broke marks its clients ERROR."""
        lines: list[_node.Line] = []
        if self.in_process:
            from conformance.clients._worker import read_line

            clients = [(name, self.statuses[name].version or "") for name in self.installed]
            built = {name: _python.Clients() for name in self.installed}
            said = [
                json.dumps(reading, default=str)
                for line in self.in_process
                for name, version in clients
                for reading in read_line(line, [(name, version)], built[name])
            ]
            lines += _node.parse(said).lines
        for kind, worker in self.workers.items():
            said, error = worker.finish("Node" if kind == "node" else "Python clients'")
            outcome = _node.parse(said)
            error = error or outcome.error
            for name, status in self.statuses.items():
                if (name in NODE_CLIENTS) != (kind == "node"):
                    continue
                if error is not None:
                    status.error = error
                elif kind == "node":
                    status.version = outcome.versions.get(name)
            if error is None:
                lines += outcome.lines
        return lines

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()


def replay(
    exchanges: Iterable[Exchange],
    *,
    node_dir: Path | None = None,
    clients: Sequence[str] = CLIENTS,
    warm: Warm | None = None,
) -> Replay:
    """Every replayable exchange read by every tested client, each reading compared with
    the suite's. ``warm``: runners started earlier and fed during the run."""
    started = time.perf_counter()
    chosen = [e for e in exchanges if replayable(e)]
    if warm is None:
        warm = Warm(node_dir, clients, in_process=True)
    for exchange in chosen:
        warm.feed(exchange)
    wanted = {e.id: e for e in chosen}
    runs = []
    for line in warm.finish():
        read = wanted.get(line.exchange)
        if read is None or line.client not in warm.clients:
            continue
        if line.error is not None and line.error.get("type") == TIMEOUT:
            warm.statuses[line.client].error = (
                f"{line.client} did not finish reading {line.exchange} ({line.mode}) within "
                "its time; the runner works at the lowest priority, so on a loaded machine "
                "this is inconclusive, not a break (rerun, or --no-clients)"
            )
            continue
        if line.client in ONE_CHOICE and several_choices(read):
            continue
        runs.append(_judged(line, read))
    timed_out = {name for name, status in warm.statuses.items() if status.error is not None}
    runs = [r for r in runs if r.client not in timed_out]
    statuses = [warm.statuses[c] for c in warm.clients if c in warm.statuses]
    return Replay(statuses, runs, [e.id for e in chosen], time.perf_counter() - started)


def _judged(line: _node.Line, exchange: Exchange) -> ClientRun:
    run = ClientRun(exchange.id, line.client, line.version, line.mode, error=line.error)
    run.chunk_index = line.chunk_index
    if line.error is None:
        want = suite_reading(exchange)
        if want is not None and line.reading is not None:
            run.differences = compare(want, line.reading)
        elif line.reading is None:
            run.error = {"type": "NoReading", "message": "the runner returned no reading"}
    return run


__all__ = ["ClientRun", "ClientStatus", "Reading", "Replay", "recorded", "replay", "replayable"]
