"""``conformance proxy`` and ``conformance judge``: the checks that judge one exchange, on
real traffic (forwarded live) or on recorded traffic. Wiring only: the proxy, the tally and
the readers are ``conformance/proxy/``; the pages are ``report/_observed``."""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import click

from conformance._errors import ConfigError
from conformance.cli._common import fail, profile_option
from conformance.contract._spec import Contract
from conformance.proxy._app import Proxy
from conformance.proxy._judging import BATCH, Judging
from conformance.proxy._recorded import Unreadable, read
from conformance.proxy._tally import Tally, new_tally, no_replay, replay_clients
from conformance.report._junit import junit_xml
from conformance.report._observed import observed_page
from conformance.run._results import (
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    public_url,
    write_json_atomic,
    write_text_atomic,
)
from conformance.server._serve import _bind as bind_socket
from conformance.wire._exchange import Exchange
from conformance.wire._redact import Redactor


class Publisher:
    """Writes the three files of a run, each whole or not at all (picklable: the proxy's
    judging process writes them)."""

    def __init__(self, report_dir: Path) -> None:
        self.report_dir = report_dir

    def __call__(self, data: dict[str, Any]) -> None:
        self.report_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.report_dir / "results.json", data)
        write_text_atomic(self.report_dir / "report.html", observed_page(data))
        write_text_atomic(self.report_dir / "junit.xml", junit_xml(data))


def _upstream(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(
            f"--upstream {url!r} is not an http(s) URL; pass the provider's base URL, "
            "for example --upstream https://api.openai.com/v1",
            EXIT_USAGE,
        )
    return url.rstrip("/")


report_dir_option = click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where report.html, results.json and junit.xml are written.",
)
clients_option = click.option(
    "--clients/--no-clients",
    default=True,
    show_default=True,
    help="Replay each exchange through the tested clients (openai-python, langchain-openai, "
    "openai-node, the AI SDK): what breaks one is a finding of client_reads_exchange.",
)
keep_bodies_option = click.option(
    "--keep-bodies",
    is_flag=True,
    help="Keep prompts and completions in the evidence and the --record file "
    "(default: their shape only, each text replaced by its length).",
)


@click.command()
@click.option(
    "--upstream", required=True, help="The provider's base URL, e.g. https://api.openai.com/v1."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@report_dir_option
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Rewrite the reports every N judged exchanges (and on exit).",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append each exchange to this JSONL file (judge it later with `conformance judge`).",
)
@keep_bodies_option
@clients_option
@profile_option
def proxy(
    upstream: str,
    host: str,
    port: int,
    report_dir: Path,
    every: int,
    record: Path | None,
    keep_bodies: bool,
    clients: bool,
    profile: str,
) -> None:
    """Forward an application's chat completions to UPSTREAM unchanged and judge each one.

    Point the application's base URL at http://HOST:PORT/v1 (its own key passes through and
    is never stored). Ctrl-C or SIGTERM stops it; the reports are written on exit too.
    """
    import uvicorn

    target = _upstream(upstream)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--report-dir {str(report_dir)!r} cannot be created: {exc.strerror}", EXIT_USAGE)
    Contract.load(None, profile=profile)  # a contract that does not load stops here, not later
    # Bound here: a busy port is one line naming the fix, and the socket says TCP, so that
    # asyncio turns Nagle's algorithm off on every connection (else the first chunk after
    # the headers can wait for a delayed ACK: tens of milliseconds to the first byte).
    try:
        sock = bind_socket(host, port)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    make_tally = functools.partial(
        new_tally, profile, public_url(target), "proxy", keep_bodies, clients
    )
    judging = Judging(make_tally, Publisher(report_dir), every=every, record=record, process=True)
    app = Proxy(target, judging.submit, other=judging.other)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        server_header=False,  # the upstream's own Server and Date pass through
        date_header=False,
        timeout_graceful_shutdown=5,
        backlog=2048,
    )
    server = _Server(config)
    click.echo(
        f"conformance proxy: http://{host}:{sock.getsockname()[1]} -> {public_url(target)}; "
        f"reports in {report_dir} (every {every} exchanges and on exit)",
        err=True,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        stopped = f"stopped by {server.stopped_by}" if server.stopped_by else "stopped"
        data = judging.stop(notes=(f"observed traffic; the proxy {stopped}",))
        observed = data.get("observed", {})
        click.echo(
            f"conformance proxy: {stopped}; {observed.get('exchanges', 0)} exchanges, verdict "
            f"{data.get('verdict', 'unknown (judging stopped)')}; "
            f"report: {report_dir / 'report.html'}",
            err=True,
        )
    sys.exit(EXIT_INTERRUPTED if server.stopped_by else data.get("exit_code", EXIT_INCONCLUSIVE))


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopping on SIGINT/SIGTERM without re-raising the signal
        afterwards (uvicorn's own handling does, which would end the process before the
        reports are written)."""

        stopped_by: str | None = None

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

            def stop(signum: int, frame: FrameType | None) -> None:
                if self.should_exit:  # a second signal: stop at once
                    self.force_exit = True
                self.stopped_by = signal.Signals(signum).name
                self.should_exit = True

            for sig in previous:
                signal.signal(sig, stop)
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def _Server(config: Any) -> Any:
    return _server_class()(config)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@report_dir_option
@keep_bodies_option
@clients_option
@profile_option
def judge(
    files: tuple[Path, ...], report_dir: Path, keep_bodies: bool, clients: bool, profile: str
) -> None:
    """Judge recorded traffic: HAR files, `conformance proxy --record` JSONL, SSE transcripts,
    chunk transcripts (one chunk's JSON per line) and response bodies.

    Each unreadable entry is one line on stderr; the rest are judged and reported as a run.
    Exit code: 0 conformant, 1 nonconformance found, 3 nothing could be judged.
    """
    contract = Contract.load(None, profile=profile)
    names = ", ".join(str(f) for f in files[:3]) + (" ..." if len(files) > 3 else "")
    tally = Tally(
        contract,
        upstream=f"recorded: {names}",
        source="recording",
        keep_bodies=keep_bodies,
        replay=replay_clients if clients else no_replay,
    )
    for path in files:
        batch: list[tuple[Exchange, Redactor]] = []  # the client replay gets them in batches
        for item in read(path):
            if isinstance(item, Unreadable):
                click.echo(f"conformance: unreadable: {item.line()}", err=True)
                tally.unreadable(item.line())
            else:
                batch.append((item, Redactor([])))  # recorded bytes: redacted when read
                if len(batch) >= BATCH:
                    tally.add_batch(batch)
                    batch = []
        tally.add_batch(batch)
    data = tally.results()
    Publisher(report_dir)(data)
    observed = data["observed"]
    totals = ", ".join(f"{n} {v}" for v, n in data["totals"].items() if n)
    click.echo(
        f"conformance: {observed['judged']} of {observed['exchanges']} exchanges judged: "
        f"{data['verdict']} ({totals}); report: {report_dir / 'report.html'}"
    )
    sys.exit(data["exit_code"])
