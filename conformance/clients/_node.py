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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.clients._reading import Reading
from conformance.wire._exchange import Exchange

OPENAI_NODE = "openai-node"
AI_SDK = "ai-sdk"
DEFAULT_DIR = Path(__file__).resolve().parent / "node"
RUNNER = "replay.mjs"
INSTALLED = Path("node_modules") / ".package-lock.json"


@dataclass(frozen=True)
class Line:
    """One (exchange, client, mode) reading from the runner."""

    exchange: str
    client: str
    version: str
    mode: str
    error: dict[str, str] | None
    reading: Reading | None
    chunk_index: int | None = None  # where the client raised, when the runner located it


@dataclass
class NodeOutcome:
    lines: list[Line] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None  # not run: why, and the install line
    error: str | None = None  # the runner broke: stderr's last line


def install_line(node_dir: Path) -> str:
    return f"npm ci --prefix {node_dir}"


def command(node_dir: Path) -> tuple[list[str] | None, str | None]:
    """The command that starts the Node runner, or why it cannot run (with the install line)."""
    node = shutil.which("node")
    if node is None:
        return None, f"node is not on PATH; install Node.js, then {install_line(node_dir)}"
    # npm writes node_modules/.package-lock.json last: without it an install is unfinished
    if not (node_dir / INSTALLED).is_file() or not (node_dir / RUNNER).is_file():
        why = f"the Node clients are not installed; install them with: {install_line(node_dir)}"
        return None, why
    return [node, str(node_dir / RUNNER)], None


def protocol_line(exchange: Exchange, recorded: Any) -> dict[str, Any]:
    return {
        "id": exchange.id,
        "stream": recorded.stream,
        "request": recorded.request,
        "status": recorded.status,
        "headers": [list(h) for h in recorded.headers],
        "body_b64": base64.b64encode(recorded.body).decode(),
    }


def parse(stdout: Sequence[str]) -> NodeOutcome:
    """The runner's lines (Node's or Python's) as readings; the first line that is not one
    makes the whole outcome an error."""
    out = NodeOutcome()
    for number, text in enumerate(stdout, 1):
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
                chunk_index=data.get("chunk_index")
                if isinstance(data.get("chunk_index"), int)
                else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return NodeOutcome(error=f"the runner's line {number} is not a reading: {exc}")
        out.lines.append(line)
        out.versions.setdefault(line.client, line.version)
    return out
