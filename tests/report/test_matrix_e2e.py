"""`conformance matrix` and `conformance history` as a user runs them: real `conformance serve`
processes, real sockets, the pages opened in headless Chromium."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import CANARY, clean_env, free_port, run_cli, serving
from tests.report.conftest import visit

pytestmark = pytest.mark.e2e

ENDPOINTS = """
endpoints:
  clean:
    base_url: {clean}
    model: conformance/reference-1
    api_key_env: MATRIX_TEST_KEY
  defective:
    base_url: {defective}
    model: conformance/reference-1
    api_key_env: MATRIX_TEST_KEY
  slow:
    base_url: {slow}
    model: conformance/reference-1
    api_key_env: MATRIX_TEST_KEY
    concurrency: 8
  down:
    base_url: http://127.0.0.1:{free}/v1
    model: conformance/reference-1
  rejected:
    base_url: {clean}
    model: conformance/reference-1
    api_key_env: MATRIX_WRONG_KEY
"""


@pytest.fixture(scope="module")
def matrix_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("matrix")
    with (
        serving() as clean,
        serving("--defect", "bad-finish-reason") as defective,
        serving("--latency", "150ms", "--chunk-delay", "10ms") as slow,
    ):
        endpoints = base / "endpoints.yaml"
        endpoints.write_text(
            ENDPOINTS.format(clean=clean, defective=defective, slow=slow, free=free_port())
        )
        done = run_cli(
            "matrix",
            str(endpoints),
            "--report-dir",
            str(base / "reports"),
            env=clean_env(MATRIX_TEST_KEY=CANARY, MATRIX_WRONG_KEY="sk-not-the-canary-000"),
            timeout=300,
        )
    return base / "reports", done


def test_every_pair_has_its_directory_and_the_comparison_says_what_became_of_each(matrix_run):
    reports, done = matrix_run
    assert done.returncode == 1, done.stderr  # the defective endpoint breaks the contract
    for name in ("clean", "defective", "slow"):
        assert (reports / name / "report.html").is_file()
    verdicts = {
        d.name: json.loads((d / "results.json").read_text())["verdict"]
        for d in reports.iterdir()
        if d.is_dir()
    }
    assert verdicts == {
        "clean": "conformant",
        "defective": "nonconformant",
        "slow": "conformant",
        "down": "inconclusive",
        "rejected": "inconclusive",
    }
    markdown = (reports / "compare.md").read_text()
    assert "down = http://127.0.0.1:" in markdown
    assert "**unreachable**" in markdown
    assert "**key rejected**" in markdown
    assert "### Latency (p50 / p95 over streamed probes; figures, not verdicts)" in markdown
    assert done.stdout.startswith("conformance: matrix: compared 5 runs over ")
    assert CANARY not in done.stdout + done.stderr + markdown
    for log in reports.glob("*/run.log"):
        assert CANARY not in log.read_text()


def test_the_slow_endpoints_latency_is_measured_from_its_settings(matrix_run):
    reports, _ = matrix_run
    slow = json.loads((reports / "slow" / "results.json").read_text())["latency"]
    clean = json.loads((reports / "clean" / "results.json").read_text())["latency"]
    assert slow["streamed_exchanges"] >= 3
    assert slow["headers_s"]["min"] >= 0.15  # the server waits 150 ms before answering
    assert slow["first_token_s"]["min"] >= 0.15
    assert slow["headers_s"]["p50"] > clean["headers_s"]["p50"]


def test_the_comparison_in_a_browser_shows_outcomes_and_latency_side_by_side(matrix_run, browser):
    reports, _ = matrix_run
    with visit(browser, reports / "compare.html", javascript=False) as seen:
        page = seen.page
        heads = page.locator("#matrix thead th").all_inner_texts()
        assert heads[0] == "check"
        assert heads[1:4] == ["clean", "defective", "slow"]
        assert heads[4].split("\n") == ["down", "unreachable"]
        assert heads[5].split("\n") == ["rejected", "key rejected"]
        rows = page.locator("#latency tbody tr")
        first = rows.first.locator("td").all_inner_texts()
        assert first[0] == "time to response headers"
        assert first[3].startswith("p50 ")
        assert first[4] == "-"
        assert page.locator("#latency").is_visible()
        differing = page.locator("#matrix tr.differs code").all_inner_texts()
        assert differing  # the defect shows as a difference, down and rejected do not
        assert seen.requests == [(reports / "compare.html").as_uri()]
        assert seen.console_errors == []


def test_an_interrupted_matrix_writes_what_every_pair_gathered(tmp_path):
    """SIGTERM once every pair is waiting on its endpoint: each child is told, writes its
    results marked interrupted, and the comparison is written all the same."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    two_waiting = threading.Event()

    def accept() -> None:  # answer nothing: the preflight waits on us
        while len(accepted) < 2:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)
        two_waiting.set()

    threading.Thread(target=accept, daemon=True).start()
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(
        "endpoints:\n"
        + "".join(
            f"  {name}:\n    base_url: http://127.0.0.1:{port}/v1\n    model: m\n"
            for name in ("one", "two")
        )
    )
    matrix = subprocess.Popen(
        [sys.executable, "-m", "conformance", "matrix", str(endpoints), "--report-dir",
         str(tmp_path / "r")],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert two_waiting.wait(120), "the runs never reached the endpoint"
        matrix.send_signal(signal.SIGTERM)
        out, err = matrix.communicate(timeout=120)
    finally:
        if matrix.poll() is None:
            matrix.kill()
        listener.close()
        for connection in accepted:
            connection.close()
    assert matrix.returncode == 130, err
    for name in ("one", "two"):
        data = json.loads((tmp_path / "r" / name / "results.json").read_text())
        assert data["network"]["interrupted"] == "SIGTERM"
        assert data["partial"] is True
    markdown = (tmp_path / "r" / "compare.md").read_text()
    assert markdown.count("**interrupted (SIGTERM)**") == 2
    assert "compared 2 runs" in out


def test_the_history_of_runs_names_the_run_that_broke_a_check_first(tmp_path, browser):
    runs = tmp_path / "runs"
    for n, defect in enumerate([(), (), ("--defect", "bad-finish-reason")], start=1):
        done = run_cli("run", "-k", "schema", "--report-dir", str(runs / f"run-{n}"), *defect)
        assert done.returncode in (0, 1), done.stderr
    page = tmp_path / "site" / "history.html"
    done = run_cli("history", str(runs), "-o", str(page))
    assert done.returncode == 1, done.stderr  # the regression stands
    broken = json.loads((runs / "run-3" / "results.json").read_text())
    failing = sorted(c["id"] for c in broken["checks"] if c["verdict"] == "FAIL")
    assert failing
    with visit(browser, page, javascript=False) as seen:
        box = seen.page.locator("#regressions")
        assert box.bounding_box()["y"] < 200  # the first screen
        items = box.locator("li")
        assert sorted(items.locator("code").all_inner_texts()) == failing
        link = items.first.locator("a").first
        assert link.get_attribute("href") == "../runs/run-3/report.html"
        link.click()
        seen.page.wait_for_load_state()
        assert seen.page.url == (runs / "run-3" / "report.html").as_uri()
        assert seen.console_errors == []
