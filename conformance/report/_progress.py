"""What a long run shows while it works: checks done, requests, tokens, current area, ETA.

On a terminal, a live line (rich) on standard error that disappears when the run ends;
elsewhere (a pipe, a CI log) plain lines, at the start, every ``interval`` seconds and when
the requests are all answered. ``quiet`` shows nothing; ``verbose`` adds one line per
exchange (status, time, retries) and per check verdict.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import IO, Any, Literal

from conformance.engine._result import CheckResult, Observer
from conformance.wire._exchange import Exchange
from conformance.wire._visible import visible

Mode = Literal["live", "plain", "quiet"]
PLAIN_INTERVAL_S = 10.0


def choose_mode(stream: IO[str], *, quiet: bool, env: dict[str, str] | None = None) -> Mode:
    """quiet wins; a terminal not in CI (and not TERM=dumb) gets the live line; else plain."""
    env = dict(os.environ) if env is None else env
    if quiet:
        return "quiet"
    in_ci = bool(env.get("CI")) and env.get("CI", "").lower() not in ("0", "false")
    tty = hasattr(stream, "isatty") and stream.isatty()
    if tty and not in_ci and env.get("TERM", "") != "dumb":
        return "live"
    return "plain"


class Progress(Observer):
    """An engine observer that renders progress; use as a context manager around the run."""

    def __init__(
        self,
        mode: Mode,
        *,
        verbose: bool = False,
        stream: IO[str] | None = None,
        interval: float = PLAIN_INTERVAL_S,
    ) -> None:
        self.mode = mode
        self.verbose = verbose and mode != "quiet"
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.requests_total = 0
        self.requests_done = 0
        self.retried = 0
        self.tokens = 0
        self.checks_total = 0
        self.checks_done = 0
        self.area = ""
        self._last_line = 0.0
        self._phase_started: float | None = None  # when work last started from idle
        self._done_before = 0  # requests answered before then
        self._live: Any = None
        self._areas: dict[str, str] = {}
        self.shown = False  # nothing is printed before begin()
        self._announced = False  # the first plan after begin() was shown

    # -- context ---------------------------------------------------------------------
    def __enter__(self) -> Progress:
        return self

    def begin(self) -> None:
        """Start showing progress (after the preflight, so that a failing first request
        is one line of its own)."""
        self.shown = True
        if self.mode == "live" and self._live is None:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, stderr=self.stream is sys.stderr)
            self._live = Live(
                get_renderable=self._text,
                console=console,
                transient=True,
                refresh_per_second=4,
                redirect_stdout=True,
                redirect_stderr=False,
            )
            self._live.start()

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- observer --------------------------------------------------------------------
    def checks_planned(self, count: int) -> None:
        with self.lock:
            self.checks_total = count

    def requests_planned(self, count: int) -> None:
        with self.lock:
            first = self.shown and not self._announced
            self._announced = self._announced or first
            if self.requests_done >= self.requests_total:  # idle: a new stretch of work
                self._phase_started = time.monotonic()
                self._done_before = self.requests_done
            self.requests_total += count
        # The first plan says the run started; later ones (follow-ups, evidence trials, one
        # request at a time) wait for the interval: a pipe gets a line per interval, not per
        # request.
        if count and first:
            self._plain(force=True)

    def request_done(self, exchange: Exchange, tokens: int) -> None:
        with self.lock:
            self.requests_done += 1
            self.tokens += tokens
            self.retried += max(0, exchange.attempts - 1)
            self.area = self._area_of(exchange.id) or self.area
        if self.verbose:
            self._line(_describe(exchange))
        self._plain()

    def check_done(self, result: CheckResult) -> None:
        with self.lock:
            self.checks_done += 1
            self.area = result.check.area
        if self.verbose:
            reason = f": {result.reason}" if result.reason else ""
            self._line(f"{result.verdict.value:5} {result.check.id}{reason}")
        elif self.checks_total and self.checks_done >= self.checks_total:
            self._plain(force=True)

    # -- rendering -------------------------------------------------------------------
    def status(self) -> str:
        """One line: checks, requests, tokens, area, ETA."""
        with self.lock:
            parts = []
            if self.checks_total:
                parts.append(f"{self.checks_done}/{self.checks_total} checks")
            parts.append(f"{self.requests_done}/{self.requests_total} requests")
            if self.retried:
                parts.append(f"{self.retried} retried")
            parts.append(f"{self.tokens} tokens")
            if self.area:
                parts.append(f"area {self.area}")
            eta = self._eta()
            if eta is not None:
                parts.append(f"ETA {eta}")
            parts.append(f"{time.monotonic() - self.started:.0f}s")
        return ", ".join(parts)

    def _eta(self) -> str | None:
        """The requests left at the pace of those answered since the run last went idle
        (the preflight's request, then the checks' probes): a batch planned while others
        are in flight (follow-ups, trials) keeps the clock and the count, which restarting
        the clock alone turned into "ETA 0s"."""
        left = self.requests_total - self.requests_done
        answered = self.requests_done - self._done_before
        if left <= 0 or answered <= 0 or self._phase_started is None:
            return None
        seconds = (time.monotonic() - self._phase_started) / answered * left
        return "<1s" if seconds < 1 else f"{seconds:.0f}s"

    def _text(self) -> Any:
        from rich.text import Text

        return Text(f"conformance: {self.status()}", style="bold")

    def _plain(self, *, force: bool = False) -> None:
        if self.mode != "plain":
            return
        now = time.monotonic()
        if not force and now - self._last_line < self.interval:
            return
        self._last_line = now
        self._line(self.status())

    def _line(self, text: str) -> None:
        if self.mode == "quiet" or not self.shown:
            return
        text = visible(text, one_line=True)  # exchanges and reasons are the endpoint's words
        if self._live is not None:
            self._live.console.print(f"conformance: {text}", markup=False, highlight=False)
            return
        with self.lock:
            self.stream.write(f"conformance: {text}\n")
            self.stream.flush()

    def _area_of(self, probe_id: str) -> str:
        if not self._areas:
            from conformance.checks import registered_checks

            for check in registered_checks():
                for probe in check.probes:
                    self._areas.setdefault(probe, check.area)
        return self._areas.get(probe_id, "")


def _describe(exchange: Exchange) -> str:
    if exchange.error is not None:
        what = exchange.error
    else:
        what = f"{exchange.status} {exchange.content_type or '(no content type)'}"
        if exchange.streamed:
            what += f", {len(exchange.events)} events"
    line = f"{exchange.id} -> {what} in {exchange.elapsed_s:.2f}s"
    if exchange.attempts > 1:
        line += f" (attempt {exchange.attempts}: {'; '.join(exchange.retries)})"
    return line
