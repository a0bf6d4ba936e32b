"""Ctrl-C and SIGTERM end a run within seconds at every phase: the signal is sent when the
endpoint has seen a request that only that phase sends (the request is held open until then,
so the moment is an event, not a guess), and the run must be gone long before it would be
released. What was gathered is written, marked partial, with exit 130; the previous run's
report.html and junit.xml never stay beside the new results.json."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from tests.e2e.conftest import clean_env, load_results
from tests.live.canary import assert_no_key
from tests.live.helpers import handled_by

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
INTERRUPT_KEY = "sk-Interrupt-Canary-5e8d"
GONE_WITHIN_S = 30  # generous for a loaded machine; the held request waits 120 s
ANSWER = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    "service_tier": "default",
}  # fmt: skip
CHUNK = {
    "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
    "system_fingerprint": "fp", "usage": None,
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop", "logprobs": None}],
}  # fmt: skip


class Holding(BaseHTTPRequestHandler):
    """A plausible endpoint that holds the request ``hold`` picks open until released."""

    hold: ClassVar[object] = staticmethod(lambda number, body: False)
    count: ClassVar[int] = 0
    arrived: ClassVar[threading.Event] = threading.Event()
    release: ClassVar[threading.Event] = threading.Event()
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with Holding.lock:
            Holding.count += 1
            number = Holding.count
        if Holding.hold(number, body):
            Holding.arrived.set()
            Holding.release.wait(120)
        if isinstance(body, dict) and body.get("stream") is True:
            data = f"data: {json.dumps(CHUNK)}\n\ndata: [DONE]\n\n".encode()
            kind = "text/event-stream"
        else:
            data, kind = json.dumps(ANSWER).encode(), "application/json"
        try:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client went away: what the test is about
            pass

    def log_message(self, *args):
        pass


PHASES = {
    "preflight": ((), lambda number, body: number == 1),
    "probes": ((), lambda number, body: number == 2),
    # an errors-area probe: checks of the areas before it have been judged by then
    "judging": ((), lambda number, body: isinstance(body, dict) and body.get("temperature") == 5),
    "exploration": (("--phase", "explore", "--seed", "1"), lambda number, body: number == 2),
}


def run_until(tmp_path, phase, signum, again_after=None):
    """Run until ``phase``, then send ``signum`` (and once more ``again_after`` seconds
    later: a second Ctrl-C while the first is handled)."""
    args, hold = PHASES[phase]
    Holding.hold, Holding.count = staticmethod(hold), 0
    Holding.arrived, Holding.release = threading.Event(), threading.Event()
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.html").write_text("<html>the previous run</html>")
    (out / "junit.xml").write_text("<testsuites name='the previous run'/>")
    with handled_by(Holding) as url:
        proc = subprocess.Popen(
            [sys.executable, "-m", "conformance", "run", "--base-url", url, "--model", "m",
             "--report-dir", str(out), "--retries", "0", *args],
            env=clean_env(CONFORMANCE_API_KEY=INTERRUPT_KEY),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            assert Holding.arrived.wait(120), proc.communicate(timeout=5)
            proc.send_signal(signum)
            if again_after is not None:
                time.sleep(again_after)  # the scenario's own gap, not a wait for an event
                proc.send_signal(signum)
            stdout, stderr = proc.communicate(timeout=GONE_WITHIN_S)
        finally:
            Holding.release.set()
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return proc.returncode, stdout, stderr, out


@pytest.mark.parametrize("phase", sorted(PHASES))
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_each_phase_ends_the_run_whole_and_marked(tmp_path, phase, signum):
    code, stdout, stderr, out = run_until(tmp_path, phase, signum)
    name = signal.Signals(signum).name
    assert code == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert "Aborted!" not in stderr
    assert (
        f"conformance: interrupted by {name}: the results gathered so far are in {out} "
        "(marked partial)"
    ) in stderr
    data = load_results(out)
    assert (data["partial"], data["network"]["interrupted"], data["exit_code"]) == (
        True, name, 130,
    )  # fmt: skip
    names = sorted(p.name for p in out.iterdir())
    if phase == "preflight":
        assert names == ["results.json"]  # nothing of the previous run stays beside it
        return
    assert names == ["junit.xml", "report.html", "results.json"]
    report = (out / "report.html").read_text()
    assert "the run stopped early" in report
    assert "exit code 130" in report
    junit = (out / "junit.xml").read_text()
    assert f'<property name="conformance_interrupted" value="{name}"' in junit
    assert '<property name="conformance_partial" value="true"' in junit


def test_a_signal_while_the_reports_are_written_leaves_none_of_the_previous_run(tmp_path):
    """The signal comes from inside pytest-html's summary hook (a test plugin loaded by
    PYTEST_PLUGINS): the report being written is dropped, and the previous one too."""
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.html").write_text("<html>the previous run</html>")
    (out / "junit.xml").write_text("<testsuites name='the previous run'/>")
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(out),
         "-k", "usage_arithmetic"],
        env=clean_env(PYTEST_PLUGINS="tests.live._signal_while_writing"),
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "Aborted!" not in proc.stderr
    data = load_results(out)
    assert (data["partial"], data["exit_code"]) == (True, 130)
    left = sorted(p.name for p in out.iterdir())
    assert "report.html" not in left or "the previous run" not in (out / "report.html").read_text()
    assert not [n for n in left if n.endswith(".partial")]
    assert "junit.xml" not in left or "the previous run" not in (out / "junit.xml").read_text()


@pytest.mark.parametrize("gap_s", [0.0, 0.1])
def test_two_ctrl_c_in_quick_succession_still_write_every_file_marked_partial(tmp_path, gap_s):
    """The second Ctrl-C came while the first was being handled: junit.xml said
    ``tests="0"`` with no partial mark (green in CI) and the card "no checks ran; exit code
    3". The second is now ignored while what was gathered is written."""
    code, stdout, stderr, out = run_until(tmp_path, "probes", signal.SIGINT, again_after=gap_s)
    assert code == 130, stdout + stderr
    assert "Traceback" not in stderr
    data = load_results(out)
    assert (data["partial"], data["network"]["interrupted"], data["exit_code"]) == (
        True, "SIGINT", 130,
    )  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.html", "results.json"]
    junit = (out / "junit.xml").read_text()
    assert '<property name="conformance_partial" value="true"' in junit
    assert '<property name="conformance_interrupted" value="SIGINT"' in junit
    report = (out / "report.html").read_text()
    assert "exit code 130" in report
    assert "exit code 3<" not in report  # what the card said: inconclusive, not interrupted
    outputs = [p.read_bytes() for p in out.iterdir()]
    assert_no_key(stdout, stderr, *outputs, key=INTERRUPT_KEY)


def test_ctrl_c_while_starting_leaves_no_previous_run_looking_current(tmp_path, monkeypatch):
    """Ctrl-C before the session has started (here: as it starts) wrote nothing and left the
    previous run's three files in place, as if they were this run's."""
    from click.testing import CliRunner

    from conformance.cli import _run, main

    class Interrupted:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            raise KeyboardInterrupt

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(_run, "Session", Interrupted)
    out = tmp_path / "reports"
    out.mkdir()
    for name in ("report.html", "junit.xml", "results.json"):
        (out / name).write_text("the previous run")
    result = CliRunner().invoke(main, ["run", "--report-dir", str(out), "-q"])
    assert result.exit_code == 130, result.output
    assert result.output == (
        "conformance: interrupted by SIGINT while starting: nothing was run; the previous "
        "run's report.html, results.json, junit.xml removed.\n"
    )
    assert list(out.iterdir()) == []
