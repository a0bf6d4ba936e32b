"""``conformance history``: many results.json of the same endpoint(s) over time, one page."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from conformance._errors import ConformanceError
from conformance.cli._common import fail
from conformance.cli._gate import format_of, format_option
from conformance.run._results import EXIT_NONCONFORMANT, EXIT_USAGE


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write it. Default: history.html for html, standard output for markdown "
    "and json.",
)
@format_option
def history(paths: tuple[Path, ...], output: Path | None, fmt: str | None) -> None:
    """One page of how endpoints changed: PATHS are results.json files of `conformance run`,
    or directories searched for them (e.g. the downloaded artifacts of a scheduled job).

    \b
    First: the regressions still standing, each naming the run that broke it; then every
    verdict change, newest first; then latency and token trends and the runs themselves.
    Exit 1 while a regression stands (a gate for a scheduled job), else 0.
    """
    from conformance.report._history import load_history
    from conformance.report._history_render import render_history
    from conformance.report._machine import history_json, history_markdown

    fmt = fmt or format_of(output)
    target = output or Path("history.html")
    try:
        found = load_history(paths, target)
    except ConformanceError as exc:
        fail(f"history {exc}", EXIT_USAGE)
    standing = [c for s in found.series for c in s.standing()]
    code = EXIT_NONCONFORMANT if standing else 0
    render = {"markdown": history_markdown, "json": history_json, "html": render_history}[fmt]
    text = render(found)
    if output is None and fmt != "html":
        click.echo(text, nl=False)
        sys.exit(code)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--output {str(target)!r} cannot be written: {exc}.", EXIT_USAGE)
    runs = sum(len(s.runs) for s in found.series)
    click.echo(
        f"conformance: history of {runs} runs ({len(found.series)} endpoint"
        f"{'s' * (len(found.series) != 1)}): {target}"
    )
    for change in sorted(standing, key=lambda c: c.run.started_at, reverse=True):
        click.echo(
            f"conformance: regression: {change.check} broke on the run of "
            f"{change.run.started_at} ({change.before} -> {change.after}): {change.run.path}"
        )
    sys.exit(code)
