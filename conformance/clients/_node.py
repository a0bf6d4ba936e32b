"""The Node clients (openai-node, the Vercel AI SDK), in one ``node`` process per replay.

The protocol with ``node/replay.mjs`` (kept there by its author): JSON Lines on stdin, one per
exchange (``id``, ``stream``, ``request``, ``status``, ``headers``, ``body_b64``: the body as
received with Content-Encoding undone); JSON Lines on stdout, one per (exchange, client,
mode) with ``ok``, ``error`` and a ``reading`` in the shape of ``_reading.Reading``. Exit 0
even when clients failed on exchanges; anything else means the runner itself broke.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.clients._reading import Reading
from conformance.wire._exchange import Exchange

OPENAI_NODE = "openai-node"
AI_SDK = "ai-sdk"
DEFAULT_DIR = Path(__file__).resolve().parent / "node"
RUNNER = "replay.mjs"
TIMEOUT_S = 300.0  # the whole replay; a runner that hangs is reported, never waited on forever


@dataclass(frozen=True)
class Line:
    """One (exchange, client, mode) reading from the runner."""

    exchange: str
    client: str
    version: str
    mode: str
    error: dict[str, str] | None
    reading: Reading | None


@dataclass
class NodeOutcome:
    lines: list[Line] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None  # not run: why, and the install line
    error: str | None = None  # the runner broke: stderr's last line


def install_line(node_dir: Path) -> str:
    return f"npm ci --prefix {node_dir}"


class Runner:
    """The Node runner, started early (its clients load while the run goes on) and fed the
    exchanges once; ``outcome`` is set instead when it cannot run."""

    def __init__(self, node_dir: Path) -> None:
        self.node_dir = node_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.outcome: NodeOutcome | None = None
        node = shutil.which("node")
        if node is None:
            why = f"node is not on PATH; install Node.js, then {install_line(node_dir)}"
            self.outcome = NodeOutcome(skipped=why)
        elif not (node_dir / "node_modules").is_dir() or not (node_dir / RUNNER).is_file():
            why = f"the Node clients are not installed; install them with: {install_line(node_dir)}"
            self.outcome = NodeOutcome(skipped=why)
        else:
            self.process = subprocess.Popen(  # noqa: S603 - our own runner, no shell
                [node, str(node_dir / RUNNER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=node_dir,
            )

    def finish(
        self, exchanges: Sequence[Exchange], recorded: Callable[[Exchange], Any]
    ) -> NodeOutcome:
        """Every exchange read by the Node clients (once; the process then ends)."""
        if self.outcome is not None:
            return self.outcome
        assert self.process is not None  # noqa: S101 - set when no outcome is
        stdin = "".join(json.dumps(_line(e, recorded(e))) + "\n" for e in exchanges)
        try:
            out, err = self.process.communicate(stdin.encode(), timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            self.outcome = NodeOutcome(error=f"the Node runner did not finish in {TIMEOUT_S:.0f} s")
            return self.outcome
        if self.process.returncode != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            last = lines[-1] if lines else "(no output on stderr)"
            code = self.process.returncode
            self.outcome = NodeOutcome(error=f"the Node runner exited with {code}: {last}")
        else:
            self.outcome = _parse(out.decode(errors="replace"))
        return self.outcome

    def close(self) -> None:
        """End the process if it was never fed (a run stopped before the replay)."""
        if self.process is not None and self.process.poll() is None and self.outcome is None:
            self.process.kill()
            self.process.communicate()
            self.outcome = NodeOutcome(error="the replay did not run")


def run(
    exchanges: Sequence[Exchange], node_dir: Path, recorded: Callable[[Exchange], Any]
) -> NodeOutcome:
    """Every exchange through the Node runner in ``node_dir``, in one process."""
    return Runner(node_dir).finish(exchanges, recorded)


def _line(exchange: Exchange, recorded: Any) -> dict[str, Any]:
    return {
        "id": exchange.id,
        "stream": recorded.stream,
        "request": recorded.request,
        "status": recorded.status,
        "headers": [list(h) for h in recorded.headers],
        "body_b64": base64.b64encode(recorded.body).decode(),
    }


def _parse(stdout: str) -> NodeOutcome:
    out = NodeOutcome()
    for number, text in enumerate(stdout.splitlines(), 1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
            error = data.get("error")
            line = Line(
                exchange=str(data["id"]),
                client=str(data["client"]),
                version=str(data.get("version") or ""),
                mode=str(data["mode"]),
                error=None
                if error is None
                else {"type": str(error.get("type")), "message": str(error.get("message"))},
                reading=None if data.get("reading") is None else Reading.from_dict(data["reading"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return NodeOutcome(error=f"the Node runner's line {number} is not a reading: {exc}")
        out.lines.append(line)
        out.versions.setdefault(line.client, line.version)
    return out
