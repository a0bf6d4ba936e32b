"""Running the suite against every endpoint x model of an endpoints file, then comparing.

Each pair is a ``conformance run`` in a child process (docs/design.md says why not in this
one): the endpoints run side by side, the models of one endpoint one after another, so each
endpoint's own concurrency and rate limit hold. The key goes to the child in its environment
(``CONFORMANCE_API_KEY``), never on a command line. A pair that cannot conclude (unreachable,
key rejected, interrupted, never started) still has a ``results.json`` that says why, so the
comparison shows it as such. Ctrl-C or SIGTERM is forwarded (as SIGTERM) once to every
child, which writes what it gathered; then the comparison is written all the same.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.engine._result import Usage
from conformance.run._matrix_file import Pair
from conformance.run._results import (
    EXIT_INCONCLUSIVE,
    EXIT_NONCONFORMANT,
    EXIT_OK,
    RunInfo,
    build,
    write_json_atomic,
)
from conformance.run._settings import API_KEY_VARS, BASE_URL_VARS, MODEL_VARS

# Variables a child must not inherit: the pair's own endpoint, model and key are given.
INHERITED_NOT = (*BASE_URL_VARS, *API_KEY_VARS, *MODEL_VARS)
NOT_RUN = "not run: "  # how a stub's note begins (the comparison reads it)


@dataclass
class PairRun:
    """What became of one pair."""

    pair: Pair
    directory: Path
    exit_code: int | None = None  # the child's exit code; None: it never ran
    reason: str | None = None  # why there is no run of its own (the stub's note)
    duration_s: float = 0.0
    verdict: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def results(self) -> Path:
        return self.directory / "results.json"


Say = Callable[[str], None]


class MatrixRun:
    """Runs ``pairs`` into ``report_dir/<label>/``; ``run_args`` go to every ``conformance run``."""

    def __init__(
        self,
        pairs: Sequence[Pair],
        report_dir: Path,
        *,
        run_args: Sequence[str] = (),
        parallel: int | None = None,
        env: Mapping[str, str] | None = None,
        say: Say = lambda line: None,
    ) -> None:
        self.runs = [PairRun(p, report_dir / p.label) for p in pairs]
        self.report_dir = report_dir
        self.run_args = list(run_args)
        self.env = dict(os.environ if env is None else env)
        self.say = say
        endpoints = {p.endpoint.name for p in pairs}
        # No child gets another endpoint's key, nor an endpoint, model or key to fall back on.
        self._withheld = set(INHERITED_NOT) | {
            p.endpoint.api_key_env for p in pairs if p.endpoint.api_key_env
        }
        self._slots = threading.Semaphore(parallel or max(1, len(endpoints)))
        self._lock = threading.Lock()
        self.stopping: str | None = None  # the signal that stopped the matrix

    def run(self) -> list[PairRun]:
        """Every pair, the endpoints side by side; on KeyboardInterrupt, forward it and wait."""
        by_endpoint: dict[str, list[PairRun]] = {}
        for pair_run in self.runs:
            by_endpoint.setdefault(pair_run.pair.endpoint.name, []).append(pair_run)
        threads = [
            threading.Thread(target=self._endpoint, args=(runs,), name=f"matrix-{name}")
            for name, runs in by_endpoint.items()
        ]
        for thread in threads:
            thread.start()
        try:
            self._join(threads)
        except KeyboardInterrupt:
            self.stop(self.stopping or "SIGINT")
            try:
                self._join(threads)
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting for them
                self._kill()
                self._join(threads)
        return self.runs

    @staticmethod
    def _join(threads: list[threading.Thread]) -> None:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # short waits, so that Ctrl-C is seen at once

    def stop(self, signal_name: str) -> None:
        """Tell every running child to stop (once) and start no more."""
        with self._lock:
            self.stopping = signal_name
            live = [r.process for r in self.runs if r.process and r.process.poll() is None]
        for process in live:
            # SIGTERM, not SIGINT: a child started from a background job ignores SIGINT.
            # `conformance run` stops on it as on Ctrl-C: it writes what it gathered.
            process.send_signal(signal.SIGTERM)

    def _kill(self) -> None:
        with self._lock:
            live = [r.process for r in self.runs if r.process and r.process.poll() is None]
        for process in live:
            process.kill()

    def _endpoint(self, runs: list[PairRun]) -> None:
        for pair_run in runs:
            with self._slots:
                self._pair(pair_run)

    def _pair(self, pair_run: PairRun) -> None:
        pair = pair_run.pair
        pair_run.directory.mkdir(parents=True, exist_ok=True)
        for old in ("results.json", "report.html", "junit.xml"):  # never mistake an older run
            (pair_run.directory / old).unlink(missing_ok=True)
        key_env = pair.endpoint.api_key_env
        with self._lock:
            if self.stopping is not None:
                self._stub(pair_run, f"{NOT_RUN}the matrix was interrupted by {self.stopping}")
                return
            if key_env is not None and not self.env.get(key_env):
                self._stub(pair_run, f"{NOT_RUN}the environment variable {key_env} is not set")
                return
            env = self.child_env(pair)
            started = time.perf_counter()
            log = (pair_run.directory / "run.log").open("wb")
            pair_run.process = subprocess.Popen(  # noqa: S603 - our own command, no shell
                self._command(pair_run),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                # A session of its own: Ctrl-C at a terminal reaches only the matrix, which
                # forwards it to each child once; and where the kernel shares CPU by session
                # (autogroup), each run gets a share like a run started on its own would.
                start_new_session=True,
            )
        self.say(f"{pair.label}: started ({pair.endpoint.base_url}, {pair.model})")
        with log:
            pair_run.exit_code = pair_run.process.wait()
        pair_run.duration_s = time.perf_counter() - started
        if not pair_run.results.is_file():
            self._stub(
                pair_run,
                f"{NOT_RUN}conformance run ended (exit {pair_run.exit_code}) without results; "
                f"see {pair_run.directory / 'run.log'}",
            )
            return
        pair_run.verdict = _verdict(pair_run.results)
        report = pair_run.directory / "report.html"
        self.say(
            f"{pair.label}: {pair_run.verdict or 'no verdict'} (exit {pair_run.exit_code}) in "
            f"{pair_run.duration_s:.1f}s: {report if report.is_file() else pair_run.results}"
        )

    def child_env(self, pair: Pair) -> dict[str, str]:
        """The environment of ``pair``'s run: its own key as ``CONFORMANCE_API_KEY``, and
        no other endpoint's key."""
        env = {k: v for k, v in self.env.items() if k not in self._withheld}
        key_env = pair.endpoint.api_key_env
        if key_env is not None and self.env.get(key_env):
            env["CONFORMANCE_API_KEY"] = self.env[key_env]
        return env

    def _command(self, pair_run: PairRun) -> list[str]:
        pair = pair_run.pair
        endpoint = pair.endpoint
        command = [
            sys.executable, "-m", "conformance", "run",
            "--base-url", endpoint.base_url,
            "--model", pair.model,
            "--report-dir", str(pair_run.directory),
            "--profile", endpoint.profile,
            "--concurrency", str(endpoint.concurrency),
            "--quiet",
        ]  # fmt: skip
        if endpoint.rate_limit:
            command += ["--rate-limit", endpoint.rate_limit]
        for name, value in endpoint.headers:
            command += ["--header", f"{name}: {value}"]
        return command + self.run_args

    def _stub(self, pair_run: PairRun, reason: str) -> None:
        """A results.json for a pair with no run of its own, saying why."""
        pair_run.reason = reason
        pair_run.verdict = "inconclusive"
        pair = pair_run.pair
        info = RunInfo(
            base_url=pair.endpoint.base_url,
            model=pair.model,
            profile=pair.endpoint.profile,
            spec_title="",
            spec_version="",
            spec_sha256="",
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            partial=True,
            notes=[reason],
        )
        data = build(info, [], exchanges=[], requests_sent=0, usage=Usage())
        write_json_atomic(pair_run.results, data)
        self.say(f"{pair.label}: {reason}")


def _verdict(path: Path) -> str:
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("verdict", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def matrix_exit(runs: Sequence[PairRun], interrupted: bool) -> int:
    """130 when interrupted; else 1 when a pair broke the contract, 3 when one did not
    conclude, 0 when every pair is conformant."""
    if interrupted:
        return 130
    verdicts = {r.verdict for r in runs}
    if "nonconformant" in verdicts:
        return EXIT_NONCONFORMANT
    if verdicts - {"conformant"}:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def loaded(runs: Sequence[PairRun], report_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(path relative to report_dir, results data)`` for each pair, in the file's order."""
    out = []
    for pair_run in runs:
        try:
            data = json.loads(pair_run.results.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append((str(pair_run.results.relative_to(report_dir)), data))
    return out
