"""Judging off the event loop: the proxy hands each ended exchange to one thread or process,
which builds its ``Exchange``, judges it, appends it to the ``--record`` file, and publishes
the results every ``every`` exchanges (the CLI's ``publish`` writes report.html, results.json
and junit.xml). A queue between them: forwarding never waits on judging. The proxy judges in
a process of its own at a lower priority: judging a stream takes about 1.5 ms of CPU (a
plain body 0.3 ms), and in a thread it would hold the interpreter the forwarding needs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import multiprocessing
import os
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from conformance.proxy._observe import Recorded, build, secrets_of
from conformance.proxy._private import scrub
from conformance.proxy._tally import Tally
from conformance.wire._exchange import Exchange
from conformance.wire._redact import Redactor

Publish = Callable[[dict[str, Any]], None]
BATCH = 64  # exchanges judged together at most (the client replay gets them as one batch)


def record_line(exchange: Exchange, *, keep_bodies: bool) -> dict[str, Any]:
    """One line of the ``--record`` JSONL: the exchange (redacted), its bodies only when
    ``keep_bodies`` (else their shape, without the text: see ``_private``)."""
    body: dict[str, Any] = {}
    if keep_bodies:
        try:
            body["body"] = exchange.body.decode("utf-8")
        except UnicodeDecodeError:
            body["body_base64"] = base64.b64encode(exchange.body).decode("ascii")
    headers = {k: v for k, v in exchange.headers.items() if k != "content-encoding"}
    return {
        "id": exchange.id,
        "bodies": keep_bodies,
        "request": {
            "method": exchange.request.method,
            "url": exchange.request.url,
            "headers": exchange.request.headers,
            "body": exchange.request.body if keep_bodies else scrub(exchange.request.body),
        },
        "response": None
        if exchange.status is None
        else {"status": exchange.status, "headers": headers, **body},
        "ended": exchange.error is None,
        "error": exchange.error,
        "elapsed_s": round(exchange.elapsed_s, 4),
    }


# ("exchange", Recorded, id) | ("other", None, None) | ("stop", notes, None)
Item = tuple[str, Any, Any]


@dataclass(frozen=True)
class Plan:
    """What the judging loop is given (picklable, for a process of its own)."""

    make_tally: Callable[[], Tally]
    publish: Publish
    every: int
    record: Path | None


def _serve(items: Any, plan: Plan, done: Callable[[dict[str, Any]], None]) -> None:
    """The judging loop (in a thread or a process of its own): until told to stop.
    ``done`` gets ``{}`` once the tally is ready (the contract loaded), then the final data."""
    tally = plan.make_tally()
    done({})
    out: IO[str] | None = None if plan.record is None else plan.record.open("a", encoding="utf-8")
    since = 0
    try:
        while True:
            batch, notes = _next_batch(items, tally)
            if batch:
                _judge(tally, batch, out)
                since += len(batch)
                if since >= plan.every:
                    since = 0
                    _publish(plan.publish, tally.results(partial=True))
            if notes is not None:
                data = tally.results(notes=notes)
                _publish(plan.publish, data)
                done(data)
                return
    finally:
        if out is not None:
            out.close()


def _publish(publish: Publish, data: dict[str, Any]) -> None:
    """Write the reports; a file that cannot be written is said once each time, and the
    judging (and the forwarding) goes on."""
    try:
        publish(data)
    except OSError as exc:
        sys.stderr.write(f"conformance: error: the reports could not be written: {exc}\n")


def _next_batch(
    items: Any, tally: Tally
) -> tuple[list[tuple[Recorded, str]], tuple[str, ...] | None]:
    """The exchanges waiting (at least one item waited for, at most ``BATCH`` exchanges), and
    the notes of the stop when it came."""
    batch: list[tuple[Recorded, str]] = []
    item: Item | None = items.get()
    while item is not None:
        kind, first, second = item
        if kind == "stop":
            return batch, tuple(first)
        if kind == "other":
            tally.other()
        else:
            batch.append((first, second))
        if len(batch) >= BATCH:
            break
        try:
            item = items.get_nowait()
        except queue.Empty:
            item = None
    return batch, None


def _judge(tally: Tally, batch: list[tuple[Recorded, str]], out: IO[str] | None) -> None:
    built: list[tuple[Exchange, Redactor]] = []
    for recorded, exchange_id in batch:
        exchange = build(recorded, exchange_id)
        built.append((exchange, Redactor(secrets_of(recorded.request_headers, recorded.url))))
        if out is not None:
            line = record_line(exchange, keep_bodies=tally.keep_bodies)
            out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
    if out is not None:
        out.flush()
    tally.add_batch(built)


def _worker(items: Any, results: Any, plan: Plan) -> None:
    """The judging process: below the proxy's priority, so forwarding comes first."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):  # the proxy decides when judging stops
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(10)
    source = _Orphanable(items)

    def done(data: dict[str, Any]) -> None:
        if source.parent is None or source.parent.is_alive():  # no one would read it else
            results.put(data)

    _serve(source, plan, done)


class _Orphanable:
    """The judging process's queue: when the proxy is gone (killed), stop as told to."""

    def __init__(self, items: Any) -> None:
        self.items = items
        self.parent = multiprocessing.parent_process()

    def get(self) -> Item:
        while True:
            try:
                item: Item = self.items.get(timeout=1.0)
                return item
            except queue.Empty:
                if self.parent is not None and not self.parent.is_alive():
                    return ("stop", ("the proxy stopped without a word",), None)

    def get_nowait(self) -> Item:
        item: Item = self.items.get_nowait()
        return item


class Judging:
    """Judges what the proxy hands on, in a thread, or in a process of its own
    (``process=True``: judging then never holds the interpreter the forwarding runs in).
    ``make_tally`` and ``publish`` must be picklable for a process (module-level callables,
    ``functools.partial`` of them)."""

    def __init__(
        self,
        make_tally: Callable[[], Tally],
        publish: Publish,
        *,
        every: int = 50,
        record: Path | None = None,
        process: bool = False,
    ) -> None:
        plan = Plan(make_tally, publish, max(1, every), record)
        self._final: dict[str, Any] = {}
        self._process: Any = None
        if process:
            context = multiprocessing.get_context("spawn")
            self._items: Any = context.Queue()
            self._results: Any = context.Queue()
            self._process = context.Process(
                target=_worker,
                args=(self._items, self._results, plan),
                name="conformance-judge",
                daemon=True,
            )
            self._process.start()
            self._results.get()  # ready: the contract is loaded before the first exchange
        else:
            self._items = queue.SimpleQueue()
            self._thread = threading.Thread(
                target=_serve,
                args=(self._items, plan, self._final.update),
                name="conformance-judge",
                daemon=True,
            )
            self._thread.start()

    def submit(self, recorded: Recorded, exchange_id: str) -> None:
        self._items.put(("exchange", recorded, exchange_id))

    def other(self) -> None:
        self._items.put(("other", None, None))

    def stop(self, *, notes: tuple[str, ...] = ()) -> dict[str, Any]:
        """Judge what is queued, publish the final results, and return them."""
        self._items.put(("stop", notes, None))
        if self._process is None:
            self._thread.join()
            return dict(self._final)
        while True:  # the final data, unless the judging process died (then what it wrote)
            try:
                data: dict[str, Any] = self._results.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._process.is_alive():
                    return {}
        self._process.join()
        return data
