"""``conformance history``: many results.json of the same endpoint(s) over time, one page."""

from __future__ import annotations

from pathlib import Path

import click

from conformance._errors import ConformanceError
from conformance.cli._common import fail
from conformance.run._results import EXIT_USAGE


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("history.html"),
    show_default=True,
    help="Where to write the page.",
)
def history(paths: tuple[Path, ...], output: Path) -> None:
    """One page of how endpoints changed: PATHS are results.json files of `conformance run`,
    or directories searched for them (e.g. the downloaded artifacts of a scheduled job).

    \b
    First: the regressions still standing, each naming the run that broke it; then every
    verdict change, newest first; then latency and token trends and the runs themselves.
    """
    from conformance.report._history import load_history
    from conformance.report._history_render import render_history

    try:
        found = load_history(paths, output)
    except ConformanceError as exc:
        fail(f"history {exc}", EXIT_USAGE)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render_history(found), encoding="utf-8")
    except OSError as exc:
        fail(f"--output {str(output)!r} cannot be written: {exc}.", EXIT_USAGE)
    runs = sum(len(s.runs) for s in found.series)
    standing = [c for s in found.series for c in s.standing()]
    click.echo(
        f"conformance: history of {runs} runs ({len(found.series)} endpoint"
        f"{'s' * (len(found.series) != 1)}): {output}"
    )
    for change in sorted(standing, key=lambda c: c.run.started_at, reverse=True):
        click.echo(
            f"conformance: regression: {change.check} broke on the run of "
            f"{change.run.started_at} ({change.before} -> {change.after}): {change.run.path}"
        )
