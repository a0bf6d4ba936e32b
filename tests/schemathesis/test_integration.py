"""The extension as users load it: `schemathesis run` with SCHEMATHESIS_HOOKS, and
schemathesis's pytest integration, each against a real `conformance serve` on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import pytest

from conformance.contract._spec import default_spec_path
from tests.e2e.conftest import CANARY, clean_env, serving

pytestmark = pytest.mark.e2e
MODEL = "conformance/reference-1"
DEFECT = "bad-usage-total"


def _env(**extra: str) -> dict[str, str]:
    return clean_env(
        SCHEMATHESIS_HOOKS="conformance.contrib.schemathesis",
        CONFORMANCE_PROFILE="openai",
        CONFORMANCE_MODEL=MODEL,
        **extra,
    )


def _schemathesis_run(base_url: str, tmp_path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("schemathesis")
    assert exe is not None, "schemathesis's command is not installed"
    return subprocess.run(
        [
            exe,
            "run",
            str(default_spec_path()),
            "--url",
            base_url.removesuffix("/v1"),
            "-H",
            f"Authorization: Bearer {CANARY}",
            "--phases",
            "examples,fuzzing",
            "-n",
            "10",
            "--seed",
            "1",
            "--no-color",
        ],
        env=_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_schemathesis_run_with_the_extension_finds_a_defect(tmp_path):
    with serving("--profile", "openai", "--defect", DEFECT) as url:
        done = _schemathesis_run(url, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "ST901 usage_arithmetic: usage.total_tokens is not prompt_tokens + completion_tokens"
        in (done.stdout)
    )
    assert "JSON path: $.usage.total_tokens" in done.stdout
    assert CANARY not in done.stdout + done.stderr


def test_schemathesis_run_with_the_extension_passes_a_conforming_server(tmp_path):
    with serving("--profile", "openai") as url:
        done = _schemathesis_run(url, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "No issues found" in done.stdout


PYTEST_MODULE = """
import schemathesis
from hypothesis import settings

import conformance.contrib.schemathesis  # noqa: F401 - registers the checks and hooks

schema = schemathesis.openapi.from_path({spec!r})
schema.config.update(base_url={url!r}, headers={{"Authorization": "Bearer {key}"}})


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True)
def test_api(case):
    case.call_and_validate()
"""


@pytest.mark.parametrize(("defect", "outcome"), [(DEFECT, "failed"), (None, "passed")])
def test_the_pytest_integration_runs_our_checks(pytester, monkeypatch, defect, outcome):
    for name, value in _env().items():
        monkeypatch.setenv(name, value)
    args = ("--profile", "openai", *(("--defect", defect) if defect else ()))
    with serving(*args) as url:
        pytester.makepyfile(
            test_api=textwrap.dedent(
                PYTEST_MODULE.format(
                    spec=str(default_spec_path()), url=url.removesuffix("/v1"), key=CANARY
                )
            )
        )
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    text = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get(outcome, 0) >= 1, text[-3000:]
    if defect:
        assert "usage_arithmetic: usage.total_tokens is not prompt_tokens" in text
        assert "Spec: #/components/schemas/Usage/properties/total_tokens" in text
