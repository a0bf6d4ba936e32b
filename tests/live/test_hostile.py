"""Runs against hostile endpoints (tests/live/hostile.py) on a real socket: the key never
reaches an output, in any spelling; memory stays bounded; each problem is one ERROR or one
message and the run goes on."""

from __future__ import annotations

import base64
import html
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.canary import assert_no_key
from tests.live.hostile import KEY, MODEL, hostile_server

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space of a run: the unbounded reads took 1-3 GB


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with hostile_server() as url:
        yield url


def test_the_scanner_finds_the_key_in_every_spelling():
    """What assert_no_key is trusted with: each of these outputs holds the key."""
    leaks = [
        KEY.upper(), KEY.encode("utf-16-le"), b"x" + KEY.encode("utf-32-be"),
        "".join(f"\\u{ord(c):04x}" for c in KEY), html.escape(KEY).replace("-", "&#45;"),
        "".join(f"%{ord(c):02X}" for c in KEY), base64.b64encode(b"ab" + KEY.encode()),
        base64.urlsafe_b64encode(KEY.encode("utf-16-le")),
        json.dumps({"body": KEY.encode("utf-16-le").decode("utf-8")}),
    ]  # fmt: skip
    for leak in leaks:
        with pytest.raises(AssertionError):
            assert_no_key(leak)
    assert_no_key("sk-Hostile-Canary-[REDACTED]", base64.b64encode(b"nothing to see here"))


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
    assert_no_key(proc.stdout, proc.stderr, *(p.read_bytes() for p in files))
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


NOT_UTF8 = "not decoded"  # how every "the body is UTF-16..." reason ends (RFC 8259, 8.1)


def test_a_utf16_body_quoting_the_key_is_a_finding_and_never_decoded(tmp_path, hostile):
    # json.loads(bytes) reads UTF-16 silently: the run was conformant and the key, NUL
    # interleaved, reached results.json and report.html.
    proc, out = run(tmp_path, hostile, "utf16-key", "-q", "-k", "response_schema", "--trials", "1")
    assert proc.returncode == 1, proc.stderr
    [check] = results(out)["checks"]
    assert check["verdict"] == "FAIL"
    assert check["findings"]
    for finding in check["findings"]:  # one per probe
        assert (finding["title"], finding["kind"]) == ("the response body is not JSON", "not JSON")
        assert finding["actual"].startswith(
            "the body is UTF-16LE, not UTF-8: JSON over HTTP must be UTF-8 (RFC 8259, section "
            "8.1); not decoded: "
        )


@pytest.mark.parametrize(
    ("behaviour", "encoding"), [("utf16-missing", "UTF-16"), ("utf32-missing", "UTF-32BE")]
)
def test_a_404_in_utf16_or_utf32_quoting_the_key_stops_the_run_in_one_line(
    tmp_path, hostile, behaviour, encoding
):
    proc, out = run(tmp_path, hostile, behaviour, "-q", outputs=frozenset({"results.json"}))
    assert proc.returncode == 3, proc.stderr
    url = f"{hostile}/{behaviour}/v1/chat/completions"
    line = (
        f"the endpoint at {url} answered 404 Not Found (the body is {encoding}, not UTF-8: "
        "JSON over HTTP must be UTF-8 (RFC 8259, section 8.1); not decoded): either no chat "
        "completions API is at this address (check --base-url; it usually ends in /v1) or "
        f"model '{MODEL}' is not served there (check --model)."
    )
    assert proc.stderr == f"conformance: {line}\n"  # one line (a second one said "see ...")
    assert results(out)["notes"] == [line]


def test_220000_keys_on_every_answer_are_not_judged_and_memory_stays_bounded(tmp_path, hostile):
    # A valid 3.5 MB body: parsed and judged on every check, it took 4 GB and 5 minutes, or
    # a MemoryError inside json.loads. Now each answer is parsed once, stopped at 100,000
    # object members, and kept as its evidence only (under the 1 GiB address-space limit).
    proc, out = run(
        tmp_path, hostile, "many-keys", "-q", "-k", "response_schema or usage", "--trials", "2"
    )
    assert proc.returncode == 3, proc.stderr
    data = results(out)
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["response_schema"]["verdict"] == "ERROR"
    assert by_id["response_schema"]["reason"].startswith(
        "chat: the body is JSON with more than 100000 object members; not judged; "
    )
    assert {c["verdict"] for c in data["checks"]} <= {"ERROR", "SKIP"}
    kept = [e["response"] for e in data["exchanges"] if e["response"]]
    assert all(r["body_truncated"] and len(r["body"]) == 64 * 1024 for r in kept[1:])


def test_a_redirect_reporting_a_million_tokens_is_never_billed(tmp_path, hostile):
    # Every stream or tools request is answered 307 with usage of 10^6 + 10^6 tokens: it was
    # charged, and --max-tokens 5000 stopped the run after 9 requests.
    proc, out = run(
        tmp_path, hostile, "redirect-billed", "-q", "--max-tokens", "5000", "--trials", "2",
        "-k", "usage_arithmetic or tool_call_arguments",
    )  # fmt: skip
    data = results(out)
    statuses = [e["response"]["status"] for e in data["exchanges"] if e["response"]]
    assert statuses.count(307) > 5, statuses
    assert data["tokens"]["total"] < 1000, data["tokens"]
    assert "budget" not in json.dumps(data["notes"]) + proc.stderr
    assert data["requests"] == len(data["exchanges"])


def test_a_count_of_10_to_the_30_tokens_is_a_finding_and_billed_as_an_estimate(tmp_path, hostile):
    proc, out = run(
        tmp_path, hostile, "huge-usage", "-q", "--max-tokens", "5000", "-k", "usage_arithmetic"
    )
    assert proc.returncode == 1, proc.stderr
    data = results(out)
    [check] = data["checks"]
    kinds = {(f["json_path"], f["kind"]) for f in check["findings"]}
    assert kinds == {
        ("$.usage.prompt_tokens", "an implausible token count"),
        ("$.usage.total_tokens", "an implausible token count"),
    }
    tokens = data["tokens"]
    assert tokens["total"] < 5000
    assert tokens["unreported_exchanges"] == data["requests"]
    assert "budget" not in json.dumps(data["notes"]) + proc.stderr
    assert len(proc.stdout.splitlines()[0]) < 200  # no 34-digit total
