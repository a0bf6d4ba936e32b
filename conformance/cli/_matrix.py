"""``conformance matrix``: every endpoint x model of an endpoints file, then the comparison."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from conformance._errors import ConformanceError
from conformance.cli._common import fail
from conformance.cli._runio import interruptible
from conformance.run._matrix_file import EndpointsFileError, load_endpoints, pairs_of
from conformance.run._results import EXIT_USAGE

if TYPE_CHECKING:
    from conformance.run._matrix import PairRun


@click.command()
@click.argument("endpoints_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/matrix"),
    show_default=True,
    help="One directory per endpoint x model in here, and compare.html / compare.md.",
)
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Run only this endpoint of the file (repeatable): one CI job per endpoint.",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=None,
    help="Runs at once (default: one per endpoint; the models of one endpoint always run "
    "one after another, so its concurrency and rate limit hold).",
)
@click.option("-k", "select", metavar="EXPR", help="As `conformance run -k`.")
@click.option(
    "--phase",
    type=click.Choice(["checks", "explore", "all"]),
    default="checks",
    show_default=True,
    help="As `conformance run --phase`.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(min=1),
    default=None,
    help="Ceiling on requests, per run.",
)
@click.option(
    "--max-tokens", type=click.IntRange(min=1), default=None, help="Ceiling on tokens, per run."
)
def matrix(
    endpoints_file: Path,
    report_dir: Path,
    only: tuple[str, ...],
    parallel: int | None,
    select: str | None,
    phase: str,
    max_requests: int | None,
    max_tokens: int | None,
) -> None:
    """Run the suite against every endpoint x model of ENDPOINTS_FILE (YAML; see README),
    side by side, then write compare.html and compare.md.

    \b
    Exit codes: 0 every run conformant, 1 a run found nonconformance, 2 the file is
    wrong, 3 a run did not conclude (unreachable, key rejected), 130 interrupted.
    """
    from conformance.run._matrix import MatrixRun, matrix_exit

    try:
        pairs = pairs_of(load_endpoints(endpoints_file), only)
    except EndpointsFileError as exc:
        for problem in exc.problems:
            click.echo(f"conformance: error: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    except ConformanceError as exc:
        fail(str(exc), EXIT_USAGE)
    run_args = ["--phase", phase]
    for option, value in (("-k", select), ("--max-requests", max_requests)):
        if value is not None:
            run_args += [option, str(value)]
    if max_tokens is not None:
        run_args += ["--max-tokens", str(max_tokens)]
    click.echo(f"conformance: matrix: {len(pairs)} runs into {report_dir}", err=True)
    runner = MatrixRun(
        pairs,
        report_dir,
        run_args=run_args,
        parallel=parallel,
        say=lambda line: click.echo(f"conformance: matrix: {line}", err=True),
    )

    def record(name: str) -> None:
        runner.stopping = name

    try:
        with interruptible(record):
            runs = runner.run()
    except KeyboardInterrupt:  # pragma: no cover - MatrixRun.run handles it
        runs = runner.runs
    interrupted = runner.stopping is not None
    write_comparison(runs, report_dir)
    sys.exit(matrix_exit(runs, interrupted))


def write_comparison(runs: Sequence[PairRun], report_dir: Path) -> None:
    from conformance.report._compare import build_matrix
    from conformance.report._compare_render import render_html, render_markdown
    from conformance.run._matrix import loaded

    gathered = loaded(runs, report_dir)
    if not gathered:
        click.echo("conformance: matrix: no run wrote results; nothing to compare", err=True)
        return
    table = build_matrix(gathered, page=report_dir / "compare.html")
    (report_dir / "compare.html").write_text(render_html(table), encoding="utf-8")
    (report_dir / "compare.md").write_text(render_markdown(table), encoding="utf-8")
    differ = sum(1 for row in table.rows if row.differs)
    click.echo(
        f"conformance: matrix: compared {len(table.columns)} runs over {len(table.rows)} checks "
        f"({differ} differ): {report_dir / 'compare.html'} (and compare.md)"
    )
