"""A client runner in a process of its own, fed exchanges as they are recorded.

Both runners (the Node one, ``node/replay.mjs``, and the Python one, ``_worker``) speak the
same JSON Lines: one exchange per line in (``_node`` documents it), one reading per (exchange,
client, mode) out. A runner starts with the run, so its clients load while the checks are
sent, and reads each answer as soon as it is recorded, on another core: what is left after
the checks is the last answers and the comparison. Writing and reading go through threads,
so a slow runner never blocks the run's event loop on a full pipe.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TIMEOUT_S = 300.0  # for the whole replay: a runner that hangs is reported, never waited on


class Worker:
    """One runner process: ``send`` lines while it runs, ``finish`` for everything it said."""

    def __init__(self, command: Sequence[str], cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own runners, no shell
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
        )
        self._out: list[str] = []
        self._err: list[bytes] = []
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._write, daemon=True),
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.result: tuple[list[str], str | None] | None = None

    def send(self, line: dict[str, Any]) -> None:
        self._inbox.put((json.dumps(line) + "\n").encode())

    def _write(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None  # noqa: S101 - opened with PIPE
        try:
            while (data := self._inbox.get()) is not None:
                stdin.write(data)
                stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the runner died: finish() reports its exit code and stderr
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self) -> None:
        assert self.process.stdout is not None  # noqa: S101 - opened with PIPE
        for raw in self.process.stdout:
            self._out.append(raw.decode(errors="replace"))

    def _read_err(self) -> None:
        assert self.process.stderr is not None  # noqa: S101 - opened with PIPE
        for raw in self.process.stderr:
            self._err.append(raw)

    def finish(self, name: str) -> tuple[list[str], str | None]:
        """Every line the runner printed, and why it broke (None: exit 0)."""
        if self.result is not None:
            return self.result
        self._inbox.put(None)
        try:
            code = self.process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._join()
            self.result = ([], f"the {name} runner did not finish in {TIMEOUT_S:.0f} s")
            return self.result
        self._join()
        error = None
        if code != 0:
            lines = b"".join(self._err).decode(errors="replace").strip().splitlines()
            last = lines[-1] if lines else "(no output on stderr)"
            error = f"the {name} runner exited with {code}: {last}"
        self.result = (self._out, error)
        return self.result

    def _join(self) -> None:
        for thread in self._threads:
            thread.join()
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def close(self) -> None:
        """End the process if it was never finished (a run stopped before the replay)."""
        if self.result is None:
            if self.process.poll() is None:
                self.process.kill()
            self._inbox.put(None)
            self.process.wait()
            self._join()
            self.result = ([], "the replay did not run")
