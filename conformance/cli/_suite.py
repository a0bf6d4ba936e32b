"""Running the suite in pytest: the preflight, the run, the summary lines, an interruption."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

import click

from conformance.cli._actions import publish
from conformance.cli._runio import EXIT_INTERRUPTED, AtomicOutputs, interruptible
from conformance.report._causes import plural
from conformance.report._clients import readiness_lines
from conformance.report._progress import Progress
from conformance.report._text import outcome_lines
from conformance.run._baseline import gate_summary, warn_gate_line
from conformance.run._results import EXIT_USAGE
from conformance.run._session import Session
from conformance.wire._visible import visible

REPORTS = ("report.html", "junit.xml")  # written by pytest; results.json is ours


def interruptible_run(
    session: Session, report_dir: Path, select: str | None, progress: Progress
) -> int:
    """The run; Ctrl-C or SIGTERM: what was gathered is written, marked partial, exit 130."""

    def record(name: str) -> None:
        session.interrupted = name

    outputs = junit_outputs(session)
    try:
        with interruptible(record, once=True):
            code = run_suite(session, report_dir, select, progress, outputs)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED  # before pytest ran (the preflight), or while it wrote
    if code == EXIT_INTERRUPTED or session.interrupted is not None:
        session.interrupted = session.interrupted or "SIGINT"
        outputs.discard()
        # A report or JUnit file this run did not write is the previous run's: it must not
        # sit beside this run's results.json.
        remove_stale_reports(report_dir, keep=outputs.written)
        session.write_results(report_dir / "results.json")
        click.echo(
            f"conformance: interrupted by {session.interrupted}: the results gathered so far "
            f"are in {report_dir} (marked partial)",
            err=True,
        )
        return EXIT_INTERRUPTED
    return code


def junit_outputs(session: Session) -> AtomicOutputs:
    """The run's atomic outputs, junit.xml in our words (``report/_junit``, from the same
    results data as results.json) instead of pytest's."""
    from conformance.report._junit import junit_xml

    return AtomicOutputs({"junit.xml": lambda: junit_xml(session.results_data())})


def remove_stale_reports(
    report_dir: Path,
    keep: set[str] | frozenset[str] = frozenset(),
    names: tuple[str, ...] = REPORTS,
) -> list[str]:
    """The previous run's report.html and junit.xml (but those in ``keep``, this run's):
    they would sit beside the new results.json and say something else. Returns the names
    of the files removed."""
    removed = []
    for name in names:
        if name not in keep:
            with contextlib.suppress(FileNotFoundError):
                (report_dir / name).unlink()
                removed.append(name)
    return removed


def _output_args(progress: Progress) -> list[str]:
    """pytest's own output, which nobody reads: the run speaks in our words (the progress
    display while it works, :func:`outcome_lines` at the end); pytest's text is shown only
    when pytest itself could not run the suite."""
    # progress writes to the real stderr while tests run: capture at the sys level only
    return ["--tb=short", "--no-summary", "--capture=sys"]


def run_suite(
    session: Session,
    report_dir: Path,
    select: str | None,
    progress: Progress,
    outputs: AtomicOutputs | None = None,
) -> int:
    import pytest

    from conformance import suite

    report_dir.mkdir(parents=True, exist_ok=True)
    results_path = report_dir / "results.json"
    stop = session.preflight_stop()
    if stop is not None:
        session.notes.append(stop.message)
        session.preflight_exit = stop.exit_code
        remove_stale_reports(report_dir)
        session.write_results(results_path)
        # one line: what stopped the run says what to fix (results.json has the evidence)
        click.echo(f"conformance: {visible(stop.message, one_line=True)}", err=True)
        publish(session.results_data())
        return stop.exit_code
    progress.begin()
    args = [
        str(Path(suite.__file__)),
        "--rootdir",
        str(Path(suite.__file__).parent),
        "-c",
        os.devnull,  # the user's own pytest configuration must not change the suite
        "-q",
        "--no-header",
        "-rN",
        "-p",
        "no:cacheprovider",
        # httpx (and so anyio) is imported before pytest starts; nothing of ours to rewrite.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        "--self-contained-html",
        "-o",
        "junit_family=xunit1",
        "-o",
        "junit_suite_name=conformance",
        f"--conformance-results={results_path}",
    ]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "conformance.plugin", "-p", "pytest_html.plugin"]
    # Third-party pytest plugins that the suite does not use cost seconds of start-up
    # (schemathesis and hypothesis import, and pytest rewrites their asserts).
    for unused in ("schemathesis", "hypothesispytest", "benchmark", "anyio"):
        args += ["-p", f"no:{unused}"]
    if select:
        args += ["-k", select]
    args += _output_args(progress)
    args += [f"--html={report_dir / 'report.html'}", f"--junitxml={report_dir / 'junit.xml'}"]
    # pytest's dots, ERROR blocks and counts go nowhere: its vocabulary is not ours
    pytest_text = io.StringIO()
    with contextlib.redirect_stdout(pytest_text):
        code = pytest.main(args, plugins=[session, outputs or junit_outputs(session)])
    progress.__exit__()  # the live line goes before the summary is printed
    if code == pytest.ExitCode.INTERRUPTED and session.interrupted is None and not session.results:
        code = pytest.ExitCode.INTERNAL_ERROR  # a collection error, not a signal
    if code == pytest.ExitCode.INTERRUPTED:
        return EXIT_INTERRUPTED
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        click.echo(pytest_text.getvalue().rstrip(), err=True)
        click.echo("conformance: error: pytest could not run the suite (see above).", err=True)
        return EXIT_USAGE
    data = session.results_data()
    _print_summary(data, len(session.results), report_dir)
    publish(data)
    return int(data["exit_code"])


def _print_summary(data: dict[str, Any], checks: int, report_dir: Path) -> None:
    """The run's verdict, causes, findings, phases, exploration and gate, ours in words."""
    verdict = data["verdict"]
    counts = ", ".join(f"{n} {v}" for v, n in data["totals"].items() if n)
    tokens = data["tokens"]
    click.echo(
        f"conformance: {verdict}: {checks} {plural(checks, 'check')} ({counts}); "
        f"{data['requests']} requests, {tokens['total']} tokens "
        f"({tokens['prompt']} prompt, {tokens['completion']} completion)"
    )
    for line in outcome_lines(data):
        click.echo(f"conformance: {line}")
    if len(data["phases"]) > 1:  # one phase: the line above already says it all
        for name, spent in data["phases"].items():
            t = spent["tokens"]
            click.echo(
                f"conformance: {name}: {spent['requests']} requests, {t['total']} tokens "
                f"({t['prompt']} prompt, {t['completion']} completion)"
            )
    if data["explore"] is not None:
        explored = data["explore"]
        click.echo(
            f"conformance: explore: seed {explored['seed']} (replay: --seed {explored['seed']}),"
            f" {len(explored['findings'])} distinct findings"
            + (f"; stopped early: {explored['stopped_by']}" if explored["stopped_by"] else "")
        )
    for line in readiness_lines(data):
        click.echo(f"conformance: client {line}")
    for line in gate_summary(data["gate"]):
        click.echo(f"conformance: {line}")
    warned = warn_gate_line(data)
    if warned is not None:
        click.echo(f"conformance: {warned}")
    click.echo(
        f"conformance: report: {report_dir / 'report.html'} (results.json and junit.xml beside it)"
    )
