"""The pytest plugin as a user meets it: the README example and the suite via --pyargs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CONFORMANCE_BASE_URL",
        "OPENAI_BASE_URL",
        "CONFORMANCE_API_KEY",
        "OPENAI_API_KEY",
        "CONFORMANCE_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_the_readme_quickstart_is_exactly_two_commands_and_ci_runs_the_second():
    block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == [
        'python3 -m pip install -e ".[test]" && python3 -m conformance run',
        'python3 -m pip install -e ".[test]" && python3 -m pytest',
    ]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == commands[1]


def test_the_readme_pytest_example_passes_against_the_embedded_server(pytester, monkeypatch):
    clean_environment(monkeypatch)
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    assert len([line for line in example.splitlines() if line.strip()]) <= 10
    pytester.makepyfile(test_my_endpoint=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_suite_runs_from_pytest_with_pyargs_and_writes_results(pytester, monkeypatch):
    clean_environment(monkeypatch)
    results = pytester.path / "results.json"
    result = pytester.runpytest_subprocess(
        "--pyargs",
        "conformance.suite",
        f"--conformance-results={results}",
        "-p",
        "no:cacheprovider",
    )
    data = json.loads(results.read_text())
    # chunk_created_stable: no stream of the local server spans a second (issue 19)
    result.assert_outcomes(passed=len(data["checks"]) - 1, skipped=1)
    assert data["verdict"] == "conformant"
    assert data["endpoint"]["embedded"] is True


def test_a_bad_option_is_a_usage_error_with_the_message(pytester, monkeypatch):
    clean_environment(monkeypatch)
    result = pytester.runpytest_subprocess(
        "--pyargs",
        "conformance.suite",
        "--conformance-base-url",
        "localhost:1",
        "--conformance-model",
        "m",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --conformance-base-url 'localhost:1' is not an http(s) URL with a host. Pass "
            "the endpoint's base URL, for example --conformance-base-url "
            "https://api.example.com/v1."
        ]
    )


def test_the_plugins_errors_name_its_own_options(pytester, monkeypatch):
    clean_environment(monkeypatch)
    result = pytester.runpytest_subprocess(
        "--conformance-base-url", "http://127.0.0.1:1/v1", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --conformance-model is missing: with --conformance-base-url, name the model "
            "to test, for example --conformance-model meta-llama/Llama-3.3-70B-Instruct (or set "
            "CONFORMANCE_MODEL)."
        ]
    )


def test_the_plugins_fixture_gets_the_runs_preflight_one_line_no_assert(pytester, monkeypatch):
    from tests.e2e.conftest import serving

    clean_environment(monkeypatch)  # no key, against an endpoint that requires one
    pytester.makepyfile(
        test_mine="def test_hi(conformance_chat):\n"
        "    assert conformance_chat({'messages': []}).status == 200\n"
    )
    with serving() as url:
        result = pytester.runpytest_subprocess(
            f"--conformance-base-url={url}",
            "--conformance-model=conformance/reference-1",
            "-p",
            "no:cacheprovider",
        )
    assert result.ret == 3
    out = result.stdout.str() + result.stderr.str()
    assert (
        f"conformance: no API key: {url}/chat/completions answered 401 to a request without "
        "one. Set CONFORMANCE_API_KEY (or OPENAI_API_KEY)."
    ) in out
    assert "assert 401 == 200" not in out


def test_the_plugin_declares_its_options_and_marker(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        ["*OpenAI-compatible chat-completions conformance*", "*--conformance-base-url*"]
    )
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(
        [
            "@pytest.mark.conformance_check(check_id): the test runs the registered "
            "conformance check.",
            "@pytest.mark.conformance_explore(property_id): the test judges an exploration "
            "property.",
        ]
    )
