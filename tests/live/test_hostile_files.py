"""Hostile input files: a results.json, an endpoints file or a request body built to break
the command reading it. Each is one line naming the file and what is wrong, exit 2; never a
traceback, never exit 1 (which says "nonconformant")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance.cli import main
from conformance.run._load import MAX_RESULTS_BYTES
from conformance.server import DEFAULT_MODEL, ServerConfig
from tests.live.hostile import KEY

DEEP = "[" * 100_000 + "]" * 100_000
GOOD: dict = {"schema_version": 1, "checks": []}
CHECK = {"id": "usage_arithmetic", "verdict": "FAIL", "findings": []}
DAMAGED = {
    "deep": (DEEP, "is JSON nested too deeply to be a results.json of `conformance run`; "
             "the file is damaged."),
    "endpoint": ({**GOOD, "endpoint": "x"}, "`endpoint` is a string, not an object"),
    "latency": ({**GOOD, "latency": "fast"}, "`latency` is a string, not an object or null"),
    "totals": ({**GOOD, "totals": None}, "`totals` is null, not an object"),
    "id": ({**GOOD, "checks": [{**CHECK, "id": ["a"]}]},
           "`checks[0].id` is an array, not a string"),
    "count": ({**GOOD, "checks": [{**CHECK, "findings": [{"title": "t", "count": "2"}]}]},
              "`checks[0].findings[0].count` is a string, not an integer"),
    "tokens": ({**GOOD, "tokens": {"total": "3"}},
               "`tokens.total` is a string, not an integer or null"),
    "flag": ({**GOOD, "endpoint": {"base_url": "u", "embedded": 1}},
             "`endpoint.embedded` is an integer, not true or false"),
}  # fmt: skip


def command(name: str, path: Path, tmp_path: Path) -> list[str]:
    return {
        "compare": ["compare", str(path), "-o", str(tmp_path / "c.html")],
        "history": ["history", str(path), "-o", str(tmp_path / "h.html")],
        "baseline write": ["baseline", "write", str(path), "-o", str(tmp_path / "b.yaml")],
    }[name]


@pytest.mark.parametrize("name", ["compare", "history", "baseline write"])
@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_a_damaged_results_json_is_one_line_naming_the_file_and_field(tmp_path, name, case):
    content, said = DAMAGED[case]
    path = tmp_path / "results.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    result = CliRunner().invoke(main, command(name, path, tmp_path))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if case == "deep":
        expected = f"conformance: error: {name} '{path}' {said}\n"
    else:
        expected = (
            f"conformance: error: {name} '{path}': {said}; the file is damaged. Pass the "
            "results.json that `conformance run` wrote.\n"
        )
    assert result.output == expected


@pytest.mark.parametrize("name", ["compare", "history", "baseline write"])
def test_a_results_json_larger_than_any_run_writes_is_not_read(tmp_path, name):
    path = tmp_path / "results.json"
    with path.open("wb") as f:  # sparse: nothing is written but its size
        f.truncate(MAX_RESULTS_BYTES + 1)
    result = CliRunner().invoke(main, command(name, path, tmp_path))
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"conformance: error: {name} '{path}' holds {MAX_RESULTS_BYTES + 1} bytes, more than "
        "the 64 MiB a results.json of `conformance run` can be; it was not read.\n"
    )


HOSTILE_ID = "x`</code><img src=x onerror=alert(1)>`|\x1b[2J\x07"


def test_compare_markdown_shows_hostile_ids_and_words_literally(tmp_path):
    """A backtick in a check id closed its code span and raw HTML followed; ESC and BEL from a
    results.json reached the terminal."""
    finding = {"title": "bad\x1b]0;owned\x07 `x`", "kind": "k", "count": 1, "exchange": "chat"}
    runs = []
    for name, verdict in (("a\x1b[31m", "FAIL"), ("b", "PASS")):
        run_dir = tmp_path / name
        run_dir.mkdir()
        found = [finding] if verdict == "FAIL" else []
        check = {"id": HOSTILE_ID, "verdict": verdict, "area": "us\x07age", "title": "t\x1b",
                 "reason": "why\x1b[1m", "findings": found}  # fmt: skip
        data = {**GOOD, "endpoint": {"base_url": "http://h/v1\x1b", "embedded": False},
                "model": "m\x07", "checks": [check]}  # fmt: skip
        (run_dir / "results.json").write_text(json.dumps(data))
        runs.append(str(run_dir / "results.json"))
    result = CliRunner().invoke(main, ["compare", *runs, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert not [c for c in text if ord(c) < 32 and c != "\n"]
    assert "<img" not in text.replace("\\<img", "")  # only as escaped, literal text
    assert "</code>" not in text.replace("\\</code\\>", "")
    row = next(line for line in text.splitlines() if "onerror" in line and line.startswith("|"))
    assert row.count(" | ") == 3  # area | check | a | b: the id's | does not split the cell
    # each character taken literally: controls as escapes (their backslash escaped too)
    assert "x\\`\\</code\\>\\<img src=x onerror=alert(1)\\>\\`\\|\\\\x1b\\[2J\\\\x07" in row


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("endpoints:\n  a: " + "[" * 100_000 + "]" * 100_000, "is nested too deeply to read."),
        ("a: &x [1]\nendpoints: {b: *x}\n", "uses a YAML alias (*x) at line 2; aliases are "
         "refused (they can expand a small file without bound): write the value out in full."),
        ("#" * (1024 * 1024 + 1), "is larger than 1 MiB; that is no endpoints file."),
    ],
    ids=["deep", "alias", "big"],
)  # fmt: skip
def test_a_hostile_endpoints_file_for_matrix_is_one_line_exit_2(tmp_path, content, said):
    path = tmp_path / "endpoints.yaml"
    path.write_text(content)
    result = CliRunner().invoke(main, ["matrix", str(path), "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert result.output == f"conformance: error: {path} {said}\n"


@pytest.mark.parametrize("depth", [150, 900, 100_000])
@pytest.mark.parametrize("fault", [None, "reset-mid-stream"])
def test_conformance_serve_refuses_deeply_nested_json_with_a_4xx_json_error(depth, fault):
    """``conformance serve`` answered 500 (a RecursionError logged) where its contract says
    4xx with a JSON error; at 900 levels the request validator was what recursed."""
    from tests.server.helpers import request

    config = ServerConfig(faults=frozenset({fault} if fault else set()))
    nested = "[" * depth + "]" * depth
    body = f'{{"model": "{DEFAULT_MODEL}", "messages": {nested}, "stream": true}}'
    response = request(config, content=body.encode(), headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text[:300]
    assert "nested deeper than 100 levels" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32-le"])
def test_a_model_listing_is_read_only_in_utf8(encoding):
    """GET /models in UTF-16 was decoded silently (httpx's json()); JSON over HTTP is UTF-8."""
    import httpx

    from conformance.run._preflight import listed_models
    from conformance.wire._client import Endpoint

    listing = json.dumps({"data": [{"id": "m-1"}, {"id": f"key {KEY}"}]}).encode(encoding)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=listing))
    endpoint = Endpoint(base_url="http://127.0.0.1:9/v1", api_key=KEY)
    expected = ["m-1", "key [REDACTED]"] if encoding == "utf-8" else None
    assert listed_models(endpoint, transport) == expected
