"""Judging off the event loop: the proxy hands each ended exchange to one thread, which
builds its ``Exchange``, judges it, appends it to the ``--record`` file, and publishes the
results every ``every`` exchanges (the CLI's ``publish`` writes report.html, results.json and
junit.xml). A queue between them: forwarding never waits on judging.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
from collections.abc import Callable
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


class Judging:
    """The judging thread. ``submit`` is what the proxy calls (cheap, thread-safe)."""

    def __init__(
        self,
        tally: Tally,
        publish: Publish,
        *,
        every: int = 50,
        record: Path | None = None,
    ) -> None:
        self.tally = tally
        self.publish = publish
        self.every = max(1, every)
        self._queue: queue.SimpleQueue[tuple[Recorded, str] | None] = queue.SimpleQueue()
        self._record: IO[str] | None = (
            record.open("a", encoding="utf-8") if record is not None else None
        )
        self._since = 0
        self._thread = threading.Thread(target=self._loop, name="conformance-judge", daemon=True)
        self._thread.start()

    def submit(self, recorded: Recorded, exchange_id: str) -> None:
        self._queue.put((recorded, exchange_id))

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[tuple[Recorded, str]] = []
            stop = item is None
            if item is not None:
                batch.append(item)
            while not stop and len(batch) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                else:
                    batch.append(more)
            if batch:
                self._judge(batch)
            if stop:
                return

    def _judge(self, batch: list[tuple[Recorded, str]]) -> None:
        built: list[tuple[Exchange, Redactor]] = []
        for recorded, exchange_id in batch:
            exchange = build(recorded, exchange_id)
            built.append((exchange, Redactor(secrets_of(recorded.request_headers))))
            if self._record is not None:
                line = record_line(exchange, keep_bodies=self.tally.keep_bodies)
                self._record.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        if self._record is not None:
            self._record.flush()
        self.tally.add_batch(built)
        self._since += len(batch)
        if self._since >= self.every:
            self._since = 0
            self.publish(self.tally.results(partial=True))

    def stop(self, *, notes: tuple[str, ...] = ()) -> dict[str, Any]:
        """Judge what is queued, publish the final results, and return them."""
        self._queue.put(None)
        self._thread.join()
        if self._record is not None:
            self._record.close()
        data = self.tally.results(notes=notes)
        self.publish(data)
        return data
