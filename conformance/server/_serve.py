"""Serve the reference app with uvicorn: blocking for ``conformance serve``, or in a thread.

The socket is bound here, before uvicorn starts, so that a busy port is a ``ConfigError``
with a fix (not uvicorn's ``sys.exit``), and so that port 0 gives a known free port.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from conformance._errors import ConfigError
from conformance.server._app import create_app
from conformance.server._config import ServerConfig

STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunningServer:
    """A reference server accepting connections; ``base_url`` ends in ``/v1``."""

    base_url: str
    config: ServerConfig
    host: str
    port: int


@contextmanager
def serve_in_thread(
    config: ServerConfig = ServerConfig(),  # noqa: B008 - frozen
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[RunningServer]:
    """Run the server on a real socket in a background thread for the ``with`` block.

    Returns once the server accepts connections; on exit it stops and the thread ends.
    Port 0 (the default) picks a free port.
    """
    sock = _bind(host, port)
    server = uvicorn.Server(_uvicorn_config(config, quiet=True))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="conformance-reference-server",
        daemon=True,
    )  # fmt: skip
    try:
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(
                    f"the reference server on {host}:{sock.getsockname()[1]} stopped while "
                    "starting; its log above says why."
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the reference server did not start within {STARTUP_TIMEOUT_S:g}s."
                )
            time.sleep(0.005)
        bound_port = int(sock.getsockname()[1])
        yield RunningServer(
            base_url=f"http://{_url_host(host)}:{bound_port}/v1",
            config=config,
            host=host,
            port=bound_port,
        )
    finally:
        # The block is over: no one waits for an answer any more, so open connections (a
        # stalled stream among them) are closed at once instead of drained (uvicorn's
        # graceful wait, up to its timeout, per connection still open).
        server.should_exit = True
        server.force_exit = True
        thread.join(SHUTDOWN_TIMEOUT_S)
        sock.close()


def serve(
    config: ServerConfig = ServerConfig(),  # noqa: B008 - frozen
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Serve until interrupted (Ctrl-C, then return). A busy address raises ``ConfigError``."""
    sock = _bind(host, port)
    try:
        server = uvicorn.Server(_uvicorn_config(config, quiet=False))  # configures its logging
        logging.getLogger("uvicorn.error").info(
            "Reference server running on http://%s:%d/v1 (%sPress CTRL+C to quit)",
            _url_host(host),
            sock.getsockname()[1],
            _mode_note(config),
        )
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; serving is over
        pass
    finally:
        sock.close()


def _uvicorn_config(config: ServerConfig, *, quiet: bool) -> uvicorn.Config:
    """Quiet (in a thread): warnings only, the process's logging left alone; else uvicorn's own."""
    return uvicorn.Config(
        create_app(config),
        lifespan="off",
        ws="none",
        log_level="warning" if quiet else "info",
        log_config=None if quiet else LOGGING_CONFIG,
        access_log=not quiet,
        timeout_graceful_shutdown=5,
    )


def _bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``; a ``ConfigError`` naming the fix when it cannot be."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port; use 1-65535, or 0 for any free port.")
    try:
        family, kind, proto, _, _ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(
            f"--host {host!r} cannot be resolved ({exc.strerror}); use an address such as "
            "127.0.0.1 or a name this machine resolves."
        ) from None
    # The protocol must say TCP: asyncio disables Nagle's algorithm (a 40 ms stall per
    # request with delayed ACKs) only on sockets whose `proto` is IPPROTO_TCP.
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # connections queue from now on, even before uvicorn takes over
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}. Pass another --port "
            "(0 picks a free one) or stop the program using this one."
        ) from None
    return sock


def _mode_note(config: ServerConfig) -> str:
    """What the start-up line says of the mode: nothing for the toy."""
    if config.mode != "model":
        return ""
    seeded = "fresh randomness" if config.seed is None else f"seed {config.seed}"
    return f"model-like mode, {seeded}; "


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
