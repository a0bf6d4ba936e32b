"""The endpoints file of `conformance matrix`: what it accepts, and one line per problem."""

from __future__ import annotations

import pytest

from conformance._errors import ConfigError
from conformance.run._matrix import MatrixRun, matrix_exit
from conformance.run._matrix_file import (
    EndpointsFileError,
    MatrixEndpoint,
    load_endpoints,
    pairs_of,
)
from tests.e2e.conftest import run_cli

GOOD = """
endpoints:
  openai:
    base_url: https://api.openai.com/v1
    models: [gpt-4o-mini, gpt-4.1/nano]
    api_key_env: OPENAI_API_KEY
    profile: openai
    rate_limit: 60/m
    concurrency: 4
    headers: {OpenAI-Organization: org-123}
  local:
    base_url: http://127.0.0.1:8000/v1
    model: conformance/reference-1
"""


def write(tmp_path, text):
    path = tmp_path / "endpoints.yaml"
    path.write_text(text)
    return path


def test_a_good_file_gives_every_endpoint_x_model_one_directory_each(tmp_path):
    endpoints = load_endpoints(write(tmp_path, GOOD))
    assert endpoints[0] == MatrixEndpoint(
        name="openai",
        base_url="https://api.openai.com/v1",
        models=("gpt-4o-mini", "gpt-4.1/nano"),
        api_key_env="OPENAI_API_KEY",
        profile="openai",
        rate_limit="60/m",
        concurrency=4,
        headers=(("OpenAI-Organization", "org-123"),),
    )
    assert endpoints[1].api_key_env is None
    assert endpoints[1].profile == "openai"  # the default profile, as `conformance run`'s
    labels = [p.label for p in pairs_of(endpoints)]
    assert labels == ["openai--gpt-4o-mini", "openai--gpt-4.1-nano", "local"]
    assert [p.label for p in pairs_of(endpoints, ("local",))] == ["local"]
    with pytest.raises(ConfigError) as caught:
        pairs_of(endpoints, ("anthropic",))
    assert str(caught.value) == (
        "--only 'anthropic' is not in the endpoints file; it has: openai, local."
    )


def test_every_problem_is_one_line_naming_the_place_and_the_fix(tmp_path):
    path = write(
        tmp_path,
        """
endpoints:
  bad name:
    base_url: https://a.example/v1
    model: m
  nourl:
    model: m
    colour: red
  keyed:
    base_url: https://b.example/v1
    models: []
    api_key_env: sk-live-abcdef
  lit:
    base_url: https://c.example/v1
    model: m
    api_key_env: AbCdEfGhIjKlMnOpQrStUvWxYz0123456789
  limits:
    base_url: ftp://d.example
    model: m
  rate:
    base_url: https://e.example/v1
    model: m
    rate_limit: fast
  both:
    base_url: https://f.example/v1
    model: m
    models: [n]
""",
    )
    with pytest.raises(EndpointsFileError) as caught:
        load_endpoints(path)
    at = f"{path}: endpoints"
    assert caught.value.problems == [
        f"{at}.bad name: the name 'bad name' is used as a directory name; use letters, digits, "
        "'.', '_' and '-' only (up to 64).",
        f"{at}.nourl: unknown key 'colour'; known: api_key_env, base_url, concurrency, "
        "headers, model, models, profile, rate_limit.",
        f"{at}.nourl.base_url: missing; give the endpoint's base URL, e.g. "
        "https://api.example.com/v1.",
        f"{at}.keyed.models: give the model name(s) to test, e.g. models: [gpt-4o-mini].",
        f"{at}.keyed.api_key_env: the value given is not an environment variable name; give "
        "the NAME of the variable that holds the key (e.g. OPENAI_API_KEY), never the key "
        "itself.",
        f"{at}.lit.api_key_env: looks like a key itself; give the NAME of the environment "
        "variable that holds it (e.g. OPENAI_API_KEY), and rotate that key.",
        f"{at}.limits: base_url 'ftp://d.example' is not an http(s) URL with a host. Pass the "
        "endpoint's base URL, for example --base-url https://api.example.com/v1.",
        f"{at}.rate: rate_limit {_rate_message('fast')}",
        f"{at}.both: has both 'model' and 'models'; keep one.",
    ]
    assert "sk-live-abcdef" not in str(caught.value)  # a key is never echoed


def _rate_message(value):
    from conformance.wire._ratelimit import RateLimiter

    with pytest.raises(ConfigError) as caught:
        RateLimiter.parse(value)
    return str(caught.value).removeprefix("--rate-limit ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("endpoints: [a, b]\n", "expected a mapping with 'endpoints:' naming each endpoint"),
        ("endpoints: {}\n", "'endpoints:' is empty; name at least one endpoint."),
        ("endpoints:\n  a: [\n", "not valid YAML at line 3"),
        ("endpoints: {}\nretries: 3\n", "unknown top-level key 'retries'"),
    ],
)
def test_a_broken_file_says_what_is_wrong(tmp_path, text, message):
    with pytest.raises(EndpointsFileError) as caught:
        load_endpoints(write(tmp_path, text))
    assert message in str(caught.value)


def test_the_command_prints_each_problem_on_its_own_line_and_exits_2(tmp_path):
    path = write(tmp_path, "endpoints:\n  a:\n    model: m\n  b:\n    base_url: https://x/v1\n")
    done = run_cli("matrix", str(path), "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"conformance: error: {path}: endpoints.a.base_url: missing; give the endpoint's base "
        "URL, e.g. https://api.example.com/v1.",
        f"conformance: error: {path}: endpoints.b.models: give the model name(s) to test, "
        "e.g. models: [gpt-4o-mini].",
    ]
    assert not (tmp_path / "r").exists()
    missing = run_cli("matrix", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert missing.stderr == (
        f"conformance: error: {tmp_path / 'nope.yaml'}: cannot be read (No such file or "
        "directory); pass the endpoints YAML file.\n"
    )


def test_a_pair_whose_key_variable_is_unset_is_not_run_and_says_why(tmp_path):
    (pair,) = pairs_of([MatrixEndpoint("p", "https://x.example/v1", ("m",), api_key_env="P_KEY")])
    lines: list[str] = []
    runs = MatrixRun([pair], tmp_path, env={}, say=lines.append).run()
    assert runs[0].exit_code is None
    assert lines == ["p: not run: the environment variable P_KEY is not set"]
    from conformance.run._load import read_results

    data = read_results(tmp_path / "p" / "results.json")
    assert (data["verdict"], data["partial"], data["notes"]) == (
        "inconclusive",
        True,
        ["not run: the environment variable P_KEY is not set"],
    )
    assert matrix_exit(runs, interrupted=False) == 3


def test_the_ci_matrix_workflow_runs_commands_and_options_that_exist():
    import re
    from pathlib import Path

    import yaml
    from click.testing import CliRunner

    from conformance.cli import main

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ci.md").read_text()
    text = doc[doc.index("## A matrix of providers in CI") :]
    workflow = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)[0])
    assert workflow["jobs"]["endpoint"]["strategy"]["fail-fast"] is False
    assert workflow["jobs"]["compare"]["needs"] == "endpoint"
    lines = [
        line
        for job in workflow["jobs"].values()
        for step in job["steps"]
        for line in str(step.get("run", "")).splitlines()
    ]
    lines += re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    used = {
        (m.group(1), option)
        for line in lines
        for m in [re.search(r"conformance (matrix|compare|history)\b(.*)", line)]
        if m
        for option in re.findall(r"(--[a-z-]+|-o\b)", m.group(2))
    }
    assert {c for c, _ in used} == {"matrix", "compare", "history"}
    for command, option in sorted(used):
        helped = CliRunner().invoke(main, [command, "--help"])
        assert helped.exit_code == 0
        assert option in helped.output, (command, option)


def test_a_run_gets_its_own_key_and_no_other_endpoints(tmp_path):
    a = MatrixEndpoint("a", "https://a.example/v1", ("m",), api_key_env="A_KEY")
    b = MatrixEndpoint("b", "https://b.example/v1", ("m", "n/x", "n-x"), api_key_env="B_KEY")
    pairs = pairs_of([a, b])
    assert [p.label for p in pairs] == ["a", "b--m", "b--n-x", "b--n-x-2"]
    env = {"A_KEY": "ka", "B_KEY": "kb", "OPENAI_API_KEY": "ko", "PATH": "/bin"}
    runner = MatrixRun(pairs, tmp_path, env=env)
    assert runner.child_env(pairs[0]) == {"CONFORMANCE_API_KEY": "ka", "PATH": "/bin"}
    assert runner.child_env(pairs[1]) == {"CONFORMANCE_API_KEY": "kb", "PATH": "/bin"}
