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


def run(
    exchanges: Sequence[Exchange], node_dir: Path, recorded: Callable[[Exchange], Any]
) -> NodeOutcome:
    """Every exchange through the Node runner in ``node_dir``, in one process."""
    node = shutil.which("node")
    if node is None:
        return NodeOutcome(skipped=f"node is not on PATH; install Node.js, then {install_line(node_dir)}")
    if not (node_dir / "node_modules").is_dir() or not (node_dir / RUNNER).is_file():
        return NodeOutcome(
            skipped=f"the Node clients are not installed; install them with: {install_line(node_dir)}"
        )
    stdin = "".join(json.dumps(_line(e, recorded(e))) + "\n" for e in exchanges)
    try:
        done = subprocess.run(  # noqa: S603 - our own runner, no shell, no user input in argv
            [node, str(node_dir / RUNNER)],
            input=stdin.encode(),
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
            cwd=node_dir,
        )
    except subprocess.TimeoutExpired:
        return NodeOutcome(error=f"the Node runner did not finish in {TIMEOUT_S:.0f} s")
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        last = lines[-1] if lines else "(no output on stderr)"
        return NodeOutcome(error=f"the Node runner exited with {done.returncode}: {last}")
    return _parse(done.stdout.decode(errors="replace"))


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
