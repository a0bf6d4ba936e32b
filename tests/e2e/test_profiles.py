"""--profile strict|openai end to end: `conformance serve` and `conformance run` on real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.contract._spec import default_spec_path, schemas_dir
from tests.e2e.conftest import load_results, run_cli, serving

pytestmark = pytest.mark.e2e
MODEL = "conformance/reference-1"


def test_a_server_streaming_as_openai_does_passes_under_openai_and_not_under_strict(tmp_path):
    with serving("--profile", "openai", key=None) as url:
        relaxed = run_cli(
            "run", "--base-url", url, "--model", MODEL, "--profile", "openai",
            "--report-dir", str(tmp_path / "openai"),
        )  # fmt: skip
        strict = run_cli(
            "run", "--base-url", url, "--model", MODEL, "--profile", "strict",
            "--report-dir", str(tmp_path / "strict"),
        )  # fmt: skip
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    data = load_results(tmp_path / "openai")
    assert data["profile"] == "openai"
    assert {c["verdict"] for c in data["checks"]} <= {"PASS", "SKIP"}
    html = (tmp_path / "openai" / "report.html").read_text()
    assert "<dt>profile</dt><dd>openai</dd>" in html

    # The same answers under the document as written: later deltas lack `role`.
    assert strict.returncode == 1, strict.stdout + strict.stderr
    data = load_results(tmp_path / "strict")
    assert data["profile"] == "strict"
    failed = {c["id"]: c for c in data["checks"] if c["verdict"] == "FAIL"}
    assert list(failed) == ["chunk_schema"]
    first = failed["chunk_schema"]["findings"][0]
    assert (first["title"], first["json_path"], first["schema_path"]) == (
        "required property 'role' is missing",
        "$.choices[0].delta",
        "#/components/schemas/ChatCompletionStreamResponseDelta/required",
    )


def drifted_spec(tmp_path: Path, *, with_overlay: bool) -> Path:
    spec = tmp_path / "chat-completions.openapi.yaml"
    text = default_spec_path().read_text()
    spec.write_text(text.replace("        - service_tier\n", "", 1))
    if with_overlay:
        (tmp_path / "openai.overlay.yaml").write_bytes(
            (schemas_dir() / "openai.overlay.yaml").read_bytes()
        )
    return spec


def test_a_document_the_overlay_no_longer_fits_is_one_clear_line_and_exit_2(tmp_path):
    spec = drifted_spec(tmp_path, with_overlay=True)
    proc = run_cli(
        "run", "--spec", str(spec), "--profile", "openai", "--report-dir", str(tmp_path / "r")
    )
    overlay = str(tmp_path / "openai.overlay.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == (
        "conformance: error: overlay action 1 (erratum 'response-service-tier-required') no "
        'longer fits the document: its target "$.components.schemas.ChatCompletionResponse.'
        "required[?@ == 'service_tier']\" selects nothing. The document changed: review "
        f"schemas/ERRATA.md and {overlay!r} against it, or use --profile strict.\n"
    )


def test_a_spec_without_an_overlay_beside_it_says_so(tmp_path):
    spec = drifted_spec(tmp_path, with_overlay=False)
    proc = run_cli(
        "run", "--spec", str(spec), "--profile", "openai", "--report-dir", str(tmp_path / "r")
    )
    overlay = str(tmp_path / "openai.overlay.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == (
        f"conformance: error: overlay file {overlay!r} does not exist; the openai profile needs "
        "it beside the spec. Put openai.overlay.yaml there, or use --profile strict.\n"
    )


@pytest.mark.parametrize("command", ["run", "serve"])
def test_the_old_compat_name_is_refused_with_the_choices(command):
    proc = run_cli(command, "--profile", "compat")
    assert proc.returncode == 2
    assert "Invalid value for '--profile': 'compat' is not one of 'strict', 'openai'." in (
        proc.stderr
    )
