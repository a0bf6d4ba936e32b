"""``wait_listening``, which the end-to-end tests use to wait for a server they started:
never forever, and saying why when the server does not come up."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import free_port, wait_listening


def _python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def test_a_server_that_never_listens_fails_at_the_deadline():
    proc = _python("import time; time.sleep(60)")
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=r"^sleeper did not listen within 0.5 s$"):
            wait_listening(proc, free_port(), "sleeper", timeout=0.5)
        assert time.monotonic() - started < 10
    finally:
        proc.kill()
        proc.communicate()


def test_a_server_that_exits_fails_with_its_stderr():
    proc = _python("import sys; sys.exit('no such option: --bogus')")
    try:
        with pytest.raises(RuntimeError, match=r"^quitter exited before listening: no such option"):
            wait_listening(proc, free_port(), "quitter", timeout=30)
    finally:
        proc.communicate()
