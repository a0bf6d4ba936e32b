"""Runs against hostile endpoints (tests/live/hostile.py) on a real socket: the key never
reaches an output, in any spelling; memory stays bounded; each problem is one ERROR or one
message and the run goes on."""

from __future__ import annotations

import html
import json
import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.live.hostile import KEY, MODEL, hostile_server

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space of a run: the unbounded reads took 1-3 GB


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with hostile_server() as url:
        yield url


def decoded(text: str) -> Iterator[str]:
    """``text`` and what it says once JSON escapes, HTML entities and percent-encoding are
    undone (repeatedly: results.json holds bodies that are JSON themselves)."""
    yield text
    for _ in range(3):
        text = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
        text = unquote(html.unescape(text))
        yield text


def assert_no_key(*texts: str) -> None:
    for text in texts:
        for form in decoded(text):
            assert KEY.lower() not in form.lower()


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


RUN_OUTPUTS = frozenset({"report.html", "results.json", "junit.xml"})


def run(
    tmp_path: Path, url: str, behaviour: str, *args: str, outputs: frozenset[str] = RUN_OUTPUTS
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``conformance run`` against one hostile behaviour, in a child limited to 1 GiB of
    address space; every output file and stream is scanned for the key. ``outputs``: the
    files the run writes (a run stopped at the preflight writes results.json alone)."""
    out = tmp_path / behaviour
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OPENAI_"))}
    env.update(CONFORMANCE_API_KEY=KEY, MALLOC_ARENA_MAX="2")
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--base-url", f"{url}/{behaviour}/v1",
         "--model", MODEL, "--report-dir", str(out), *args],
        env=env, capture_output=True, text=True, timeout=600, check=False,
        preexec_fn=limited,  # only setrlimit, before exec
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "MemoryError" not in proc.stdout + proc.stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.name for p in files} >= outputs
    assert_no_key(proc.stdout, proc.stderr, *(p.read_text(errors="replace") for p in files))
    return proc, out


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_a_key_echoed_with_json_escapes_and_in_a_header_name_never_reaches_an_output(
    tmp_path, hostile
):
    proc, out = run(tmp_path, hostile, "escaped-key", "-v")
    assert proc.returncode == 1
    data = results(out)
    shown = [json.dumps(f) for c in data["checks"] for f in c["findings"]]
    assert any("[REDACTED]" in f for f in shown)  # the decoded key was there, and is not
    headers = data["exchanges"][0]["response"]["headers"]
    assert "x-[REDACTED]" in headers


def test_a_key_rebuilt_from_tool_call_deltas_is_redacted_in_the_finding(tmp_path, hostile):
    _, out = run(tmp_path, hostile, "split-key", "-k", "tool_call_arguments")
    [check] = results(out)["checks"]
    assert check["verdict"] == "FAIL"
    assert "[REDACTED] not valid" in json.dumps(check["findings"])


def test_json_nested_1500_deep_is_an_error_per_check_and_the_run_goes_on(tmp_path, hostile):
    proc, out = run(tmp_path, hostile, "deep-json", "-q")
    assert proc.returncode == 3, proc.stderr
    data = results(out)
    verdicts = {c["id"]: c["verdict"] for c in data["checks"]}
    assert len(verdicts) > 40
    assert set(verdicts.values()) <= {"ERROR", "SKIP"}
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["response_schema"]["reason"].startswith(
        "chat: the body is JSON nested deeper than 100 levels; not judged; "
    )
    assert by_id["stream_framing"]["reason"].startswith(
        "chat_stream: event 1 is JSON nested deeper than 100 levels; not judged; "
    )


def test_millions_of_tiny_events_are_bounded_in_memory_and_in_results(tmp_path, hostile):
    _, out = run(tmp_path, hostile, "many-events", "-q", "-k", "stream_done_terminator")
    [check] = results(out)["checks"]
    assert check["verdict"] == "ERROR"
    assert "chat_stream: stream exceeded 1000 events; stopped reading" in check["reason"]
    assert (out / "results.json").stat().st_size < 2 * 1024 * 1024


def test_a_gzip_bomb_is_inflated_no_further_than_the_cap(tmp_path, hostile):
    _, out = run(tmp_path, hostile, "gzip-bomb", "-q", "-k", "response_schema")
    [check] = results(out)["checks"]
    assert check["verdict"] == "ERROR"
    assert check["reason"].startswith("chat: body exceeded 4194304 bytes; stopped reading;")


def test_redirects_are_not_billed_as_tokens(tmp_path, hostile):
    # The preflight's request is redirected: the run stops there (exit 3, one line naming
    # where it redirects), and the redirect it was answered with is not billed.
    proc, out = run(
        tmp_path, hostile, "redirect", "-q", "-k", "response_schema or usage",
        outputs=frozenset({"results.json"}),
    )  # fmt: skip
    assert proc.returncode == 3
    data = results(out)
    assert (
        data["requests"],
        len(data["exchanges"]),
        data["exchanges"][0]["response"]["status"],
    ) == (
        1,
        1,
        302,
    )
    assert data["tokens"] == {"prompt": 0, "completion": 0, "total": 0, "unreported_exchanges": 0}


def test_report_dir_problems_are_found_before_any_request(tmp_path, hostile):
    blocked = tmp_path / "file"
    blocked.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OPENAI_"))}
    base = [sys.executable, "-m", "conformance", "run", "--base-url", f"{hostile}/redirect/v1",
            "--model", MODEL, "-q", "--report-dir"]  # fmt: skip
    proc = subprocess.run(
        [*base, str(blocked / "reports")], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"conformance: error: --report-dir '{blocked / 'reports'}' cannot be created: Not a "
        "directory. Pass a directory you can write to.\n"
    )
    taken = tmp_path / "taken"
    (taken / "report.html").mkdir(parents=True)
    proc = subprocess.run([*base, str(taken)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"conformance: error: --report-dir '{taken}' holds a directory named report.html, where "
        "the run writes that file. Remove it or pass another --report-dir.\n"
    )
    assert sorted(p.name for p in taken.iterdir()) == ["report.html"]
