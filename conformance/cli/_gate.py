"""CI gating and comparison: ``conformance baseline write`` and ``conformance compare``."""

from __future__ import annotations

from pathlib import Path

import click

from conformance._errors import ConformanceError
from conformance.cli._common import fail
from conformance.run._baseline import Baseline
from conformance.run._results import EXIT_USAGE


@click.group()
def baseline() -> None:
    """Known findings for CI gating: `run --baseline FILE` fails only on new ones."""


@baseline.command("write")
@click.argument("results", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("conformance-baseline.yaml"),
    show_default=True,
    help="The baseline file to write (replaced; notes of entries still found are kept).",
)
@click.option(
    "--fail-only",
    is_flag=True,
    help="Only FAIL findings; by default WARN findings are listed too (for --fail-on warn).",
)
def baseline_write(results: Path, output: Path, fail_only: bool) -> None:
    """Write a baseline of every finding in RESULTS (a results.json from `conformance run`)."""
    from conformance.run._load import read_results

    try:
        data = read_results(results)
    except ConformanceError as exc:
        fail(f"baseline write {exc}", EXIT_USAGE)
    known = Baseline.from_results(data, include_warn=not fail_only)
    kept = 0
    if output.exists():  # rewriting: keep the notes that say why a finding was accepted
        try:
            known, kept = known.with_notes_from(Baseline.load(output))
        except ConformanceError:
            fail(
                f"--output {str(output)!r} exists and is not a baseline file; move it away or "
                "pass another --output (baseline write replaces only baseline files).",
                EXIT_USAGE,
            )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(known.dump(source=data), encoding="utf-8")
    except OSError as exc:
        fail(f"--output {str(output)!r} cannot be written: {exc}.", EXIT_USAGE)
    click.echo(
        f"conformance: wrote {len(known.entries)} known findings to {output}"
        + (f" (kept {kept} note{'s' * (kept > 1)} from the file it replaced)" if kept else "")
    )


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "markdown", "json"]),
    default=None,
    help="html (default; markdown when --output ends in .md, json when it ends in .json): "
    "markdown is for an issue or a pull request, json for bots.",
)


def format_of(output: Path | None) -> str:
    """The format an ``--output`` name implies: .md markdown, .json json, else html."""
    suffix = output.suffix.lower() if output is not None else ""
    return {".md": "markdown", ".json": "json"}.get(suffix, "html")


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the comparison. Default: compare.html for html, standard output "
    "for markdown and json.",
)
@format_option
def compare(results: tuple[Path, ...], output: Path | None, fmt: str | None) -> None:
    """Compare endpoints: RESULTS are results.json files of `conformance run`, one each.

    \b
    Rows are checks grouped by area, columns are endpoints; rows where the endpoints
    differ come first.
    """
    from conformance.report._compare import build_matrix
    from conformance.report._compare_render import render_html, render_markdown
    from conformance.run._load import read_results

    try:
        runs = [(str(path), read_results(path)) for path in results]
    except ConformanceError as exc:
        fail(f"compare {exc}", EXIT_USAGE)
    from conformance.report._machine import compare_json

    fmt = fmt or format_of(output)
    matrix = build_matrix(runs, page=output or Path("compare.html"))
    render = {"markdown": render_markdown, "json": compare_json, "html": render_html}[fmt]
    text = render(matrix)
    if output is None and fmt != "html":
        click.echo(text, nl=False)
        return
    target = output or Path("compare.html")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--output {str(target)!r} cannot be written: {exc}.", EXIT_USAGE)
    differ = sum(1 for row in matrix.rows if row.differs)
    click.echo(
        f"conformance: compared {len(matrix.columns)} endpoints over {len(matrix.rows)} checks "
        f"({differ} differ): {target}"
    )


@click.command()
@click.argument("results", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the summary (default: standard output).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "github"]),
    default="markdown",
    show_default=True,
    help="markdown: the run's summary (a GitLab report, a pull-request comment; what a run "
    "under GitHub Actions appends to $GITHUB_STEP_SUMMARY); github: its ::error and "
    "::warning annotations.",
)
def summary(results: Path, output: Path | None, fmt: str) -> None:
    """The summary of a run for CI: RESULTS is a results.json of `conformance run`."""
    from conformance.report._ci import run_markdown, workflow_annotations
    from conformance.run._load import read_results

    try:
        data = read_results(results)
    except ConformanceError as exc:
        fail(f"summary {exc}", EXIT_USAGE)
    text = (
        run_markdown(data)
        if fmt == "markdown"
        else "".join(f"{a}\n" for a in workflow_annotations(data))
    )
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--output {str(output)!r} cannot be written: {exc}.", EXIT_USAGE)
