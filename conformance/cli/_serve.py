"""``conformance serve``: the reference server on a socket."""

from __future__ import annotations

import click

from conformance._errors import ConformanceError
from conformance.cli._common import (
    embedded_server_options,
    fail,
    profile_option,
    server_mode_option,
    server_options,
)
from conformance.run._results import EXIT_USAGE
from conformance.run._settings import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--api-key",
    envvar="CONFORMANCE_SERVER_API_KEY",
    default=None,
    help="Require this bearer key (default $CONFORMANCE_SERVER_API_KEY; none: open).",
)
@profile_option
@server_mode_option("--mode", "mode")
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Generator seed. toy: default 0; model: the same sequence of requests gets the same "
    "answers (default: fresh randomness for every request).",
)
@embedded_server_options(embedded_only=False)
@click.option(
    "--gzip",
    "gzip",
    is_flag=True,
    help="Gzip every answer to a client that accepts gzip (as a compressing proxy does).",
)
@click.option(
    "--reasoning-field",
    type=click.Choice(["reasoning_content", "reasoning"]),
    default="reasoning_content",
    show_default=True,
    help="The name of the reasoning field: DeepSeek's (the document's) or vLLM's and OpenRouter's.",
)
def serve(
    host: str,
    port: int,
    api_key: str | None,
    profile: str,
    mode: str,
    seed: int | None,
    defects: tuple[str, ...],
    faults: tuple[str, ...],
    latency: str | None,
    chunk_delay: str | None,
    gzip: bool,
    reasoning_field: str,
) -> None:
    """Serve the reference server: POST /v1/chat/completions, faithful to the contract.

    \b
    Defects: see `conformance defects`.
    """
    from conformance.server import ServerConfig
    from conformance.server import serve as serve_forever

    try:
        options = server_options(Settings(), defects, faults, latency, chunk_delay, mode=mode)
    except ConformanceError as exc:
        fail(str(exc), EXIT_USAGE)
    config = ServerConfig(
        api_key=api_key,
        profile=profile,
        seed=seed,
        defects=frozenset(defects),
        gzip=gzip,
        reasoning_field=reasoning_field,
        **options,
    )
    try:
        serve_forever(config, host=host, port=port)  # logs the URL it really listens on
    except ConformanceError as exc:
        fail(str(exc), EXIT_USAGE)
