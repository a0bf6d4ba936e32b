"""``conformance run``: its options, and the gate they set up before the suite runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from conformance._errors import ConformanceError
from conformance.cli._common import (
    embedded_server_options,
    fail,
    profile_option,
    server_mode_option,
    server_options,
    timeout_options,
)
from conformance.cli._runio import interruptible
from conformance.cli._select import select_problem
from conformance.cli._suite import interruptible_run, remove_stale_reports
from conformance.engine._evidence import DEFAULT_EVIDENCE_TOKENS
from conformance.explore import DEFAULT_EXAMPLES, ExploreOptions
from conformance.report._progress import Progress, choose_mode
from conformance.run._baseline import FAIL_ON, Baseline, Gate
from conformance.run._results import EXIT_INTERRUPTED, EXIT_USAGE
from conformance.run._session import Session
from conformance.run._settings import DEFAULT_TRIALS, MAX_TRIALS, resolve_settings


@click.command()
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
@profile_option
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--trials",
    type=click.IntRange(1, MAX_TRIALS),
    default=DEFAULT_TRIALS,
    show_default=True,
    help="Sends of each probe whose answer depends on what the model samples (stop, caps, "
    "tools, JSON formats); a MUST broken in any trial fails, and each finding says in how "
    "many trials it was seen. Deterministic probes are sent once.",
)
@click.option(
    "--evidence-tokens",
    type=click.IntRange(min=0),
    default=DEFAULT_EVIDENCE_TOKENS,
    show_default=True,
    help="Tokens a run may spend on trials past --trials: a sampled check that saw no "
    "violation is sampled again until it can state '0 of N samples: rate below 10% at "
    "95%' or this budget is spent (0: exactly --trials).",
)
@click.option(
    "--expect-auth",
    is_flag=True,
    help="The endpoint must require an API key: one that serves a request without a key "
    "or with a made-up one FAILs the auth checks (without this flag such an endpoint is "
    "reported as open: SKIP).",
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
    help="What fails the run (exit 1): fail = broken MUSTs; warn = broken SHOULDs too; "
    "client = only findings that break a tested client (measured by the client replay).",
)
@click.option(
    "--clients/--no-clients",
    default=True,
    show_default=True,
    help="Replay every answer through openai-python, langchain-openai, openai-node and the "
    "Vercel AI SDK after the checks (never over the network) and say which clients each "
    "finding breaks. A client not installed is SKIP with its install line.",
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
@timeout_options
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
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="An extra header sent with every request (repeatable), e.g. 'X-Org: acme'. "
    "It is recorded in the evidence: put secrets in the API key, not here.",
)
@embedded_server_options(embedded_only=True)
@server_mode_option("--server-mode", "server_mode", prefix="Embedded server only: ")
@click.option("-q", "--quiet", is_flag=True, help="Print only the outcome and errors.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Print every exchange and every check as it ends."
)  # fmt: skip
def run(
    report_dir: Path,
    select: str | None,
    phase: str,
    examples: int,
    seed: int | None,
    fail_on: str,
    baseline: Path | None,
    strict_baseline: bool,
    defects: tuple[str, ...],
    faults: tuple[str, ...],
    latency: str | None,
    chunk_delay: str | None,
    server_mode: str,
    quiet: bool,
    verbose: bool,
    **endpoint: Any,
) -> None:
    """Run the conformance suite and write report.html, results.json and junit.xml."""
    try:  # every other option (``endpoint``) is a setting: resolve_settings takes it by name
        settings = resolve_settings(**endpoint)
        embedded = server_options(settings, defects, faults, latency, chunk_delay, mode=server_mode)
    except ConformanceError as exc:
        fail(str(exc), EXIT_USAGE)
    if quiet and verbose:
        fail("--quiet and --verbose contradict each other; pass one of them.", EXIT_USAGE)
    unselected = select_problem(select, phase)
    if unselected is not None:
        fail(unselected, EXIT_USAGE)
    if fail_on == "client" and not settings.clients:
        fail(
            "--fail-on client needs the client replay, which --no-clients turns off; "
            "drop one of them.",
            EXIT_USAGE,
        )
    progress = Progress(choose_mode(sys.stderr, quiet=quiet), verbose=verbose)
    gate = _gate(fail_on, baseline, strict_baseline)
    _check_report_dir(report_dir)  # created now (and last): every other refusal leaves none
    code: int | None = None
    signals: list[str] = []
    try:
        # Start-up and teardown (the embedded server's) are interruptible too: a signal there
        # is exit 130 with one line, never click's "Aborted!" and exit 1.
        with (
            interruptible(signals.append, once=True),
            progress,
            Session(
                settings,
                defects=defects,
                server_options=embedded,
                observer=progress,
                explore=ExploreOptions(examples=examples, seed=seed),
            ) as session,
        ):
            session.gate = gate
            session.phase = phase
            code = interruptible_run(session, report_dir, select, progress)
    except ConformanceError as exc:
        fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        name = signals[-1] if signals else "SIGINT"
        if code is None:
            # Nothing of this run was written: the previous run's files must not look current.
            removed = remove_stale_reports(report_dir, names=OUTPUTS)
            gone = f"; the previous run's {', '.join(removed)} removed" if removed else ""
            click.echo(
                f"conformance: interrupted by {name} while starting: nothing was run{gone}.",
                err=True,
            )
        else:
            click.echo(f"conformance: interrupted by {name} while stopping.", err=True)
        code = EXIT_INTERRUPTED
    sys.exit(code)


OUTPUTS = ("report.html", "results.json", "junit.xml")


def _check_report_dir(report_dir: Path) -> None:
    """Found before the run, not after it: a report directory nothing can be written to."""
    where = f"--report-dir {str(report_dir)!r}"
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(
            f"{where} cannot be created: {exc.strerror or exc}. Pass a directory you can write to.",
            EXIT_USAGE,
        )
    if not os.access(report_dir, os.W_OK | os.X_OK):
        fail(f"{where} is not writable. Pass a directory you can write to.", EXIT_USAGE)
    for name in OUTPUTS:
        if (report_dir / name).is_dir():
            fail(
                f"{where} holds a directory named {name}, where the run writes that file. "
                "Remove it or pass another --report-dir.",
                EXIT_USAGE,
            )


def _gate(fail_on: str, baseline: Path | None, strict_baseline: bool) -> Gate:
    if strict_baseline and baseline is None:
        fail(
            "--strict-baseline needs --baseline FILE: it makes the file's stale entries fail.",
            EXIT_USAGE,
        )
    try:
        known = None if baseline is None else Baseline.load(baseline)
        return Gate(fail_on=fail_on, baseline=known, strict_baseline=strict_baseline)
    except ConformanceError as exc:
        fail(str(exc), EXIT_USAGE)
