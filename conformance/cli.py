"""The ``conformance`` command: run the suite, serve the reference server, list checks.

Exit codes: 0 conformant, 1 nonconformance found, 2 usage or configuration error,
3 endpoint unreachable or run inconclusive.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from conformance._baseline import FAIL_ON, Baseline, Gate, gate_summary
from conformance._client import Timeouts
from conformance._errors import ConfigError, ConformanceError
from conformance._progress import Progress, choose_mode
from conformance._results import EXIT_INCONCLUSIVE, EXIT_USAGE
from conformance._runio import EXIT_INTERRUPTED, AtomicOutputs, interruptible
from conformance._session import Session
from conformance._settings import Settings, resolve_settings
from conformance._spec import PROFILES
from conformance._units import parse_duration
from conformance._version import __version__
from conformance.explore import DEFAULT_EXAMPLES, ExploreOptions


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"conformance: error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="conformance")
def main() -> None:
    """Contract-conformance tests for OpenAI-compatible chat-completions endpoints."""


@main.command()
@click.option(
    "--base-url",
    help="Endpoint base URL, e.g. https://host/v1. Default: "
    "$CONFORMANCE_BASE_URL, then $OPENAI_BASE_URL; with none, the embedded "
    "reference server is started and tested.",
)
@click.option(
    "--api-key",
    help="API key. Default: $CONFORMANCE_API_KEY, then "
    "$OPENAI_API_KEY (prefer these: a key on the command line is visible to "
    "other users of the machine). Never written to any output.",
)
@click.option(
    "--model",
    help="Model to test (default $CONFORMANCE_MODEL; the embedded "
    "server's model when no endpoint is given).",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where report.html, results.json and junit.xml are written.",
)
@click.option(
    "--spec",
    type=click.Path(dir_okay=False, path_type=Path),
    help="OpenAPI 3.1 document to test against (default: the vendored contract).",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="strict",
    show_default=True,
    help="strict: the document as written; openai: with schemas/openai.overlay.yaml.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(min=1),
    default=None,
    help="Hard ceiling on requests sent; the run stops cleanly and says so when reached.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Hard ceiling on tokens billed (prompt + completion, from usage; estimated where "
    "the endpoint reports none).",
)
@click.option(
    "--defect",
    "defects",
    multiple=True,
    metavar="NAME",
    help="Embedded server only: switch on a deliberate defect (repeatable), to "
    "see what a failure looks like. `conformance serve --help` lists them.",
)
@click.option(
    "-k",
    "select",
    metavar="EXPR",
    help="Run only the checks whose id matches this pytest -k expression.",
)
@click.option(
    "--phase",
    type=click.Choice(["checks", "explore", "all"]),
    default="checks",
    show_default=True,
    help="checks: the fixed probes (same requests every run, for CI gates); explore: "
    "requests generated from the contract (valid ones in parameter combinations, and "
    "invalid ones; pin --seed to repeat a run); all: both.",
)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=DEFAULT_EXAMPLES,
    show_default=True,
    help="Generated requests per exploration phase (valid, invalid); each is capped at "
    "16 tokens of output and n <= 2.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Exploration seed (default: a fresh one, printed and stored in results.json); "
    "the same seed replays the same generated requests.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="fail",
    show_default=True,
    help="What fails the run (exit 1): fail = broken MUSTs; warn = broken SHOULDs too.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML file of known findings (`conformance baseline write`): they do not fail "
    "the run, new ones do; entries no longer found are reported as stale.",
)
@click.option(
    "--strict-baseline",
    is_flag=True,
    help="With --baseline: stale entries (findings that no longer occur) fail the run too.",
)
@click.option(
    "--rate-limit",
    metavar="N/UNIT",
    default=None,
    help="Throttle up front: at most N requests per unit, spaced evenly (60/m, 5/s, 100/10s).",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=3,
    show_default=True,
    help="Retries after a 429, 502, 503, 504 or a connection dropped before any answer; the "
    "wait is what the endpoint asks for (Retry-After, x-ratelimit-reset-*), else jittered "
    "backoff. Still refused after that: the checks are ERROR (inconclusive), never FAIL.",
)
@click.option(
    "--max-retry-wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds: the longest wait an endpoint may ask for; a longer Retry-After gives up.",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to open a connection.",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the response headers and the first data.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds a stream may stay silent between events.",
)
@click.option(
    "--total-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds one exchange may take in all (an endless stream stops).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Do not verify the endpoint's TLS certificate (test servers only); the report says so.",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Allow sending the API key over plain http:// to a host that is not this machine.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME",
    help="Embedded server only: switch on a network fault (repeatable; `conformance faults`).",
)
@click.option(
    "--latency",
    metavar="DURATION",
    default=None,
    help="Embedded server only: delay every answer, e.g. 300ms.",
)
@click.option(
    "--chunk-delay",
    metavar="DURATION",
    default=None,
    help="Embedded server only: pause between stream events, e.g. 20ms.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the outcome and errors.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Print every exchange and every check as it ends."
)  # fmt: skip
def run(
    base_url: str | None,
    api_key: str | None,
    model: str | None,
    report_dir: Path,
    spec: Path | None,
    profile: str,
    concurrency: int,
    max_requests: int | None,
    max_tokens: int | None,
    defects: tuple[str, ...],
    select: str | None,
    phase: str,
    examples: int,
    seed: int | None,
    fail_on: str,
    baseline: Path | None,
    strict_baseline: bool,
    rate_limit: str | None,
    retries: int,
    max_retry_wait: float,
    connect_timeout: float,
    read_timeout: float,
    idle_timeout: float,
    total_timeout: float,
    insecure: bool,
    allow_insecure_http: bool,
    faults: tuple[str, ...],
    latency: str | None,
    chunk_delay: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Run the conformance suite and write report.html, results.json and junit.xml."""
    try:
        settings = resolve_settings(
            base_url=base_url,
            api_key=api_key,
            model=model,
            spec=spec,
            profile=profile,
            concurrency=concurrency,
            max_requests=max_requests,
            max_tokens=max_tokens,
            rate_limit=rate_limit,
            retries=retries,
            max_retry_wait=max_retry_wait,
            timeouts=Timeouts(connect_timeout, read_timeout, idle_timeout, total_timeout),
            insecure=insecure,
            allow_insecure_http=allow_insecure_http,
        )
        server_options = _server_options(settings, faults, latency, chunk_delay)
    except ConformanceError as exc:
        _fail(str(exc), EXIT_USAGE)
    _check_defects(settings, defects)
    if quiet and verbose:
        _fail("--quiet and --verbose contradict each other; pass one of them.", EXIT_USAGE)
    progress = Progress(choose_mode(sys.stderr, quiet=quiet), verbose=verbose)
    gate = _gate(fail_on, baseline, strict_baseline)
    try:
        with (
            progress,
            Session(
                settings,
                defects=defects,
                server_options=server_options,
                observer=progress,
                explore=ExploreOptions(examples=examples, seed=seed),
            ) as session,
        ):
            session.gate = gate
            session.phase = phase
            code = _interruptible_run(session, report_dir, select, progress)
        sys.exit(code)
    except ConformanceError as exc:
        _fail(str(exc), EXIT_USAGE)


def _server_options(
    settings: Settings, faults: tuple[str, ...], latency: str | None, chunk_delay: str | None
) -> dict[str, Any]:
    """The embedded server's faults and pacing; a usage error with a real endpoint."""
    given = [
        n
        for n, v in (("--fault", faults), ("--latency", latency), ("--chunk-delay", chunk_delay))
        if v
    ]
    if given and not settings.embedded:
        raise ConfigError(
            f"{given[0]} applies to the embedded reference server only; leave out --base-url "
            "(and CONFORMANCE_BASE_URL / OPENAI_BASE_URL) to use it."
        )
    from conformance.server import FAULTS

    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise ConfigError(
            f"--fault {unknown[0]!r} is unknown. Known faults: {', '.join(sorted(FAULTS))}."
        )
    return {
        "faults": frozenset(faults),
        "latency_s": parse_duration(latency, "--latency") if latency else 0.0,
        "chunk_delay_s": parse_duration(chunk_delay, "--chunk-delay") if chunk_delay else 0.0,
    }


def _interruptible_run(
    session: Session, report_dir: Path, select: str | None, progress: Progress
) -> int:
    """The run; Ctrl-C or SIGTERM: what was gathered is written, marked partial, exit 130."""

    def record(name: str) -> None:
        session.interrupted = name

    try:
        with interruptible(record):
            code = _run_suite(session, report_dir, select, progress)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED  # before pytest ran (the preflight): results.json only
    if code == EXIT_INTERRUPTED or session.interrupted is not None:
        session.interrupted = session.interrupted or "SIGINT"
        session.write_results(report_dir / "results.json")
        click.echo(
            f"conformance: interrupted by {session.interrupted}: the results gathered so far "
            f"are in {report_dir} (marked partial)",
            err=True,
        )
        return EXIT_INTERRUPTED
    return code


def _output_args(progress: Progress | None) -> list[str]:
    """pytest's own output to go with the progress display."""
    if progress is None:
        return []
    if progress.mode == "quiet":
        return ["-q", "--tb=no", "--no-summary"]
    # progress writes to the real stderr while tests run: capture at the sys level only
    return ["--capture=sys", *(["-v"] if progress.verbose else [])]


def _gate(fail_on: str, baseline: Path | None, strict_baseline: bool) -> Gate:
    if strict_baseline and baseline is None:
        _fail(
            "--strict-baseline needs --baseline FILE: it makes the file's stale entries fail.",
            EXIT_USAGE,
        )
    try:
        known = None if baseline is None else Baseline.load(baseline)
        return Gate(fail_on=fail_on, baseline=known, strict_baseline=strict_baseline)
    except ConformanceError as exc:
        _fail(str(exc), EXIT_USAGE)


def _check_defects(settings: Settings, defects: tuple[str, ...]) -> None:
    if not defects:
        return
    if not settings.embedded:
        _fail(
            "--defect applies to the embedded reference server only; leave out "
            "--base-url (and CONFORMANCE_BASE_URL / OPENAI_BASE_URL) to use it.",
            EXIT_USAGE,
        )
    from conformance.server import DEFECTS

    unknown = [d for d in defects if d not in DEFECTS]
    if unknown:
        _fail(
            f"--defect {unknown[0]!r} is unknown. Known defects: {', '.join(sorted(DEFECTS))}.",
            EXIT_USAGE,
        )


def _run_suite(
    session: Session, report_dir: Path, select: str | None, progress: Progress | None = None
) -> int:
    import pytest

    from conformance import suite

    report_dir.mkdir(parents=True, exist_ok=True)
    results_path = report_dir / "results.json"
    problem = session.preflight()
    if problem is not None:
        session.notes.append(problem)
        session.write_results(results_path)
        click.echo(f"conformance: {problem}", err=True)
        click.echo(f"conformance: no checks were run; see {results_path}", err=True)
        return EXIT_INCONCLUSIVE
    if progress is not None:
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
    quiet = progress is not None and progress.mode == "quiet"
    # --quiet: pytest's dots and sections go nowhere; its errors still reach stderr
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        code = pytest.main(args, plugins=[session, AtomicOutputs()])
    if progress is not None:
        progress.__exit__()  # the live line goes before the summary is printed
    if code == pytest.ExitCode.INTERRUPTED:
        return EXIT_INTERRUPTED
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        click.echo("conformance: error: pytest could not run the suite (see above).", err=True)
        return EXIT_USAGE
    data = session.results_data()
    verdict, exit_code = data["verdict"], data["exit_code"]
    counts = ", ".join(f"{n} {v}" for v, n in data["totals"].items() if n)
    tokens = data["tokens"]
    click.echo(
        f"conformance: {verdict}: {len(session.results)} checks ({counts}); "
        f"{data['requests']} requests, {tokens['total']} tokens "
        f"({tokens['prompt']} prompt, {tokens['completion']} completion)"
    )
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
    for line in gate_summary(data["gate"]):
        click.echo(f"conformance: {line}")
    click.echo(
        f"conformance: report: {report_dir / 'report.html'} (results.json and junit.xml beside it)"
    )
    return int(exit_code)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-key",
    envvar="CONFORMANCE_SERVER_API_KEY",
    default=None,
    help="Require this bearer key (default $CONFORMANCE_SERVER_API_KEY; none: open).",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="strict",
    show_default=True,
    help="strict: the document as written; openai: with schemas/openai.overlay.yaml.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Generator seed.")
@click.option(
    "--defect",
    "defects",
    multiple=True,
    metavar="NAME",
    help="Switch on a deliberate defect (repeatable).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME",
    help="Switch on a network fault (repeatable; `conformance faults` lists them).",
)
@click.option("--latency", metavar="DURATION", default=None, help="Delay every answer (300ms).")
@click.option(
    "--chunk-delay", metavar="DURATION", default=None, help="Pause between stream events (20ms)."
)
@click.option(
    "--gzip",
    "gzip",
    is_flag=True,
    help="Gzip every answer to a client that accepts gzip (as a compressing proxy does).",
)
def serve(
    host: str,
    port: int,
    api_key: str | None,
    profile: str,
    seed: int,
    defects: tuple[str, ...],
    faults: tuple[str, ...],
    latency: str | None,
    chunk_delay: str | None,
    gzip: bool,
) -> None:
    """Serve the reference server: POST /v1/chat/completions, faithful to the contract.

    \b
    Defects: see `conformance defects`.
    """
    from conformance.server import DEFECTS, ServerConfig
    from conformance.server import serve as serve_forever

    unknown = [d for d in defects if d not in DEFECTS]
    if unknown:
        _fail(
            f"--defect {unknown[0]!r} is unknown. Known defects: {', '.join(sorted(DEFECTS))}.",
            EXIT_USAGE,
        )
    try:
        options = _server_options(Settings(), faults, latency, chunk_delay)
    except ConformanceError as exc:
        _fail(str(exc), EXIT_USAGE)
    config = ServerConfig(
        api_key=api_key,
        profile=profile,
        seed=seed,
        defects=frozenset(defects),
        gzip=gzip,
        **options,
    )
    try:
        serve_forever(config, host=host, port=port)  # logs the URL it really listens on
    except ConformanceError as exc:
        _fail(str(exc), EXIT_USAGE)


@main.command()
def defects() -> None:
    """List the reference server's deliberate defects."""
    from conformance.server import DEFECTS

    for name, description in sorted(DEFECTS.items()):
        click.echo(f"{name:28} {description}")


@main.command()
def faults() -> None:
    """List the reference server's network faults (`--fault NAME`)."""
    from conformance.server import FAULTS

    for name, description in sorted(FAULTS.items()):
        click.echo(f"{name:20} {description}")


@main.command("checks")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="text: one line per check; markdown: the full catalogue (docs/checks.md).",
)
def list_checks(fmt: str) -> None:
    """List the registered checks: id, area, severity and title (then the exploration
    properties, judged with --phase explore or all)."""
    from conformance.checks import registered_checks
    from conformance.explore import PROPERTIES

    if fmt == "markdown":
        from conformance._catalogue_doc import catalogue_markdown

        click.echo(catalogue_markdown(registered_checks(), PROPERTIES), nl=False)
        return
    for check in [*registered_checks(), *PROPERTIES]:
        click.echo(f"{check.id:32} {check.area:10} {check.severity.value:6} {check.title}")


@main.group()
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
    from conformance._load import read_results

    try:
        data = read_results(results)
    except ConformanceError as exc:
        _fail(f"baseline write {exc}", EXIT_USAGE)
    known = Baseline.from_results(data, include_warn=not fail_only)
    kept = 0
    if output.exists():  # rewriting: keep the notes that say why a finding was accepted
        try:
            known, kept = known.with_notes_from(Baseline.load(output))
        except ConformanceError:
            _fail(
                f"--output {str(output)!r} exists and is not a baseline file; move it away or "
                "pass another --output (baseline write replaces only baseline files).",
                EXIT_USAGE,
            )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(known.dump(source=data), encoding="utf-8")
    except OSError as exc:
        _fail(f"--output {str(output)!r} cannot be written: {exc}.", EXIT_USAGE)
    click.echo(
        f"conformance: wrote {len(known.entries)} known findings to {output}"
        + (f" (kept {kept} note{'s' * (kept > 1)} from the file it replaced)" if kept else "")
    )


@main.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the comparison. Default: compare.html for html, standard output "
    "for markdown.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "markdown"]),
    default=None,
    help="html (default; markdown when --output ends in .md): markdown is for pasting into "
    "an issue or a pull request.",
)
def compare(results: tuple[Path, ...], output: Path | None, fmt: str | None) -> None:
    """Compare endpoints: RESULTS are results.json files of `conformance run`, one each.

    \b
    Rows are checks grouped by area, columns are endpoints; rows where the endpoints
    differ come first.
    """
    from conformance._compare import build_matrix
    from conformance._compare_render import render_html, render_markdown
    from conformance._load import read_results

    try:
        runs = [(str(path), read_results(path)) for path in results]
    except ConformanceError as exc:
        _fail(f"compare {exc}", EXIT_USAGE)
    if fmt is None:
        fmt = "markdown" if output is not None and output.suffix.lower() == ".md" else "html"
    matrix = build_matrix(runs)
    text = render_markdown(matrix) if fmt == "markdown" else render_html(matrix)
    if output is None and fmt == "markdown":
        click.echo(text, nl=False)
        return
    target = output or Path("compare.html")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"--output {str(target)!r} cannot be written: {exc}.", EXIT_USAGE)
    differ = sum(1 for row in matrix.rows if row.differs)
    click.echo(
        f"conformance: compared {len(matrix.columns)} endpoints over {len(matrix.rows)} checks "
        f"({differ} differ): {target}"
    )
