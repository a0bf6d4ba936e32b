"""What keeps a run's output whole: signals become a clean stop, files appear whole or not.

``interruptible`` turns SIGTERM into the same clean stop as Ctrl-C (KeyboardInterrupt, which
pytest and asyncio already unwind properly: open streams are closed, the results gathered so
far are written) and remembers which signal it was. ``staged`` gives pytest-html and JUnit a
staging directory beside the report directory; their files are moved into place with an
atomic rename once written, so a crash never leaves a half-written report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


@contextlib.contextmanager
def interruptible(record: Callable[[str], None]) -> Iterator[None]:
    """Within the block, SIGTERM stops the run as Ctrl-C does; ``record`` gets the signal's
    name first. Outside the main thread (signals cannot be caught there) nothing changes."""
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:  # pragma: no cover - not the main interpreter
        yield
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        record(signal.Signals(signum).name)
        # The SIGINT handler of the moment: asyncio's while a batch of requests is in
        # flight (it cancels them cleanly), else Python's default (KeyboardInterrupt).
        signal.raise_signal(signal.SIGINT)

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def staged(target: Path, names: tuple[str, ...]) -> Iterator[Path]:
    """A staging directory inside ``target``; on exit each of ``names`` written there is
    moved into ``target`` (atomically, same file system) and the directory removed."""
    target.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=target))
    try:
        yield stage
    finally:
        for name in names:
            written = stage / name
            if written.is_file():
                os.replace(written, target / name)
        shutil.rmtree(stage, ignore_errors=True)
