"""The Python clients' runner: ``python -m conformance.clients._worker CLIENT...``.

The Node runner's protocol (``_node``), for openai-python and langchain-openai: an exchange
per line on stdin; per (exchange, client, mode) a line on stdout with ``reading`` (or
``error``) and, for an exception in a stream, ``chunk_index``: the event after which the
client raises, found by replaying shorter prefixes of the stream. Run as a process of its
own so that its imports and readings use another core than the run.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import warnings
from typing import Any

from conformance.clients import _python
from conformance.clients._reading import Reading
from conformance.wire._sse import SSEDecoder

# The runner yields the CPU to the run it reads (the lowest priority): it works on the core
# the run leaves idle, and never slows the run.
NICENESS = 19
ONE_CHOICE = (_python.LANGCHAIN,)  # reads one choice per request: n > 1 is not its to read


def _several_choices(request: Any) -> bool:
    n = request.get("n") if isinstance(request, dict) else None
    return isinstance(n, int) and not isinstance(n, bool) and n > 1


def _quietly(read: _python.Mode, answer: _python.Recorded) -> Reading:
    """``read(answer)`` with the client's own warnings (pydantic's, on a list where its type
    says str) kept out of the protocol: what it read is compared instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(answer)


def _locate(recorded: _python.Recorded, read: _python.Mode, error: str) -> int | None:
    """The first event after which the client raises ``error`` (bisecting the stream)."""
    decoder = SSEDecoder()
    events = [e for e in decoder.feed(recorded.body) + decoder.close() if e.data != "[DONE]"]

    def raises(count: int) -> bool:
        body = b"".join(f"data: {e.data}\n\n".encode() for e in events[:count])
        shorter = _python.Recorded(
            recorded.status, recorded.headers, body + b"data: [DONE]\n\n", True, recorded.request
        )
        try:
            _quietly(read, shorter)
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


def read_line(
    line: dict[str, Any], clients: list[tuple[str, str]], built: _python.Clients
) -> list[dict[str, Any]]:
    """Every (client, mode) reading of one exchange, as protocol lines."""
    recorded = _python.Recorded(
        int(line["status"]),
        [(str(k), str(v)) for k, v in line["headers"]],
        base64.b64decode(line["body_b64"]),
        bool(line["stream"]),
        line.get("request") if isinstance(line.get("request"), dict) else None,
    )
    out = []
    for name, version in clients:
        if name in ONE_CHOICE and _several_choices(recorded.request):
            continue
        for mode, read in _python.modes(name, recorded.stream, built).items():
            said: dict[str, Any] = {"id": line["id"], "client": name, "version": version}
            said |= {"mode": mode, "ok": True, "error": None, "reading": None, "chunk_index": None}
            try:
                said["reading"] = _quietly(read, recorded).to_dict()
            except Exception as exc:
                said["ok"] = False
                said["error"] = {"type": type(exc).__name__, "message": str(exc)}
                if recorded.stream:
                    said["chunk_index"] = _locate(recorded, read, type(exc).__name__)
            out.append(said)
    return out


def main(argv: list[str]) -> int:
    if hasattr(os, "nice"):  # POSIX; elsewhere the runner keeps the run's priority
        os.nice(NICENESS)
    clients = [(name, _python.version(name) or "") for name in argv if name in _python.PINS]
    _python.preload([name for name, _ in clients])
    built = {name: _python.Clients() for name, _ in clients}
    for raw in sys.stdin:
        if not raw.strip():
            continue
        line = json.loads(raw)
        for name, version in clients:
            for said in read_line(line, [(name, version)], built[name]):
                sys.stdout.write(json.dumps(said, default=str) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    # Everything is said and flushed: skip tearing down the clients' thousands of pydantic
    # classes (0.2 s the run would wait for, after its last answer).
    os._exit(code)
