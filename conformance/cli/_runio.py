"""What keeps a run's output whole: signals become a clean stop, files appear whole or not.

``interruptible`` turns SIGTERM into the same clean stop as Ctrl-C (KeyboardInterrupt, which
pytest and asyncio already unwind properly: open streams are closed, the results gathered so
far are written) and remembers which signal it was. ``AtomicOutputs`` has pytest-html and
JUnit write beside their targets and renames the files into place once written, so a crash
never leaves a half-written report.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from conformance.run._results import EXIT_INTERRUPTED

__all__ = ["EXIT_INTERRUPTED", "AtomicOutputs", "interruptible"]


class _Stopping:
    """Whether a signal has already stopped the run (shared by nested ``interruptible``
    blocks): a second Ctrl-C while the first is handled must not cut the writing short."""

    depth = 0
    signalled = False


@contextlib.contextmanager
def interruptible(record: Callable[[str], None], *, once: bool = False) -> Iterator[None]:
    """Within the block, SIGTERM stops the run as Ctrl-C does; ``record`` gets the signal's
    name first. ``once``: SIGINT is handled here too, and only the first SIGINT or SIGTERM
    stops the run; those that follow (a second Ctrl-C 0.1 s later) are ignored until the
    outermost such block ends, so what was gathered is written whole and marked. Outside
    the main thread (signals cannot be caught there) nothing changes."""
    try:
        previous = signal.getsignal(signal.SIGTERM)
        previous_int = signal.getsignal(signal.SIGINT)
    except ValueError:  # pragma: no cover - not the main interpreter
        yield
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        if _Stopping.signalled and once:
            return  # already stopping: the files are being written
        _Stopping.signalled = once
        record(signal.Signals(signum).name)
        # The SIGINT handler of the moment: asyncio's while a batch of requests is in
        # flight (it cancels them cleanly), else Python's default (KeyboardInterrupt).
        # A background job of a script may have SIGINT ignored: stop all the same.
        if not once and callable(signal.getsignal(signal.SIGINT)):
            signal.raise_signal(signal.SIGINT)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise KeyboardInterrupt from None
        # Inside the event loop, raising here would end whichever task runs with
        # KeyboardInterrupt ("Task exception was never retrieved", a traceback on stderr):
        # raise it from the loop itself, which then cancels every task cleanly, as
        # asyncio's own handler does.
        loop.call_soon_threadsafe(_interrupt)

    try:
        signal.signal(signal.SIGTERM, on_term)
        if once:  # asyncio.run installs its own SIGINT handler only over Python's default
            signal.signal(signal.SIGINT, on_term)
    except ValueError:  # not the main thread
        yield
        return
    if once:
        _Stopping.depth += 1
        if _Stopping.depth == 1:
            _Stopping.signalled = False
    try:
        yield
    finally:
        if once:
            _Stopping.depth -= 1
        signal.signal(signal.SIGTERM, previous)
        if once:
            signal.signal(signal.SIGINT, previous_int)


def _interrupt() -> None:
    raise KeyboardInterrupt


class AtomicOutputs:
    """A pytest plugin: pytest-html and JUnit write to ``.<name>.partial`` beside their
    targets, and each file is renamed into place (atomic on one file system) once written,
    before their "generated" lines are printed, so those name the real paths. A run killed
    mid-write leaves at most a ``.partial`` file, never a half-written report."""

    def __init__(self, contents: Mapping[str, Callable[[], str]] | None = None) -> None:
        self._moves: list[tuple[object, str, Any, Path]] = []
        self.written: set[str] = set()  # names of the files renamed into place
        # name -> our own text for a file pytest wrote (junit.xml from results.json): put
        # in the ``.partial`` file before the rename, so it is as atomic as pytest's.
        self.contents = dict(contents or {})

    @pytest.hookimpl(trylast=True)  # after pytest-html and junitxml set themselves up
    def pytest_configure(self, config: pytest.Config) -> None:
        from _pytest.junitxml import xml_key

        xml = config.stash.get(xml_key, None)
        if xml is not None:
            self._redirect(xml, "logfile")
        for plugin in config.pluginmanager.get_plugins():
            if hasattr(plugin, "_report_path") and type(plugin).__module__.startswith(
                "pytest_html"
            ):
                self._redirect(plugin, "_report_path")

    def _redirect(self, owner: object, attr: str) -> None:
        original = getattr(owner, attr)
        final = Path(original)
        temp = final.with_name(f".{final.name}.partial")
        setattr(owner, attr, type(original)(temp) if isinstance(original, str) else temp)
        self._moves.append((owner, attr, original, temp))

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self) -> None:
        self.finish()

    def pytest_unconfigure(self) -> None:
        self.finish()  # when no terminal summary ran

    def finish(self) -> None:
        for owner, attr, original, temp in self._moves:
            if temp.is_file():
                ours = self.contents.get(Path(original).name)
                if ours is not None:
                    temp.write_text(ours(), encoding="utf-8")
                os.replace(temp, Path(original))
                self.written.add(Path(original).name)
            setattr(owner, attr, original)
        self._moves.clear()

    def discard(self) -> None:
        """Remove what an interrupted write left: the ``.partial`` files not renamed."""
        for _, _, _, temp in self._moves:
            temp.unlink(missing_ok=True)
