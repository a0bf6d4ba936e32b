"""What the commands share: the error exit and the options declared alike on several commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import Any, NoReturn, TypeVar

import click

from conformance._errors import ConfigError
from conformance.contract._spec import PROFILES
from conformance.run._settings import Settings
from conformance.wire._client import Timeouts
from conformance.wire._units import parse_duration

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"conformance: error: {message}", err=True)
    sys.exit(code)


profile_option = click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="openai",
    show_default=True,
    help="openai: the document with schemas/openai.overlay.yaml (what the tested clients "
    "read; the default); strict: the document as written, word for word.",
)

_TIMEOUT_HELP = {
    "connect": "Seconds to open a connection.",
    "read": "Seconds to wait for the response headers and the first data.",
    "idle": "Seconds a stream may stay silent between events.",
    "total": "Seconds one exchange may take in all (an endless stream stops).",
}


def timeout_options(command: F) -> F:
    """``--connect-timeout`` ... ``--total-timeout``, one per ``Timeouts`` field, handed to the
    command as one ``timeouts`` argument."""

    @functools.wraps(command)
    def with_timeouts(**kwargs: Any) -> Any:
        given = {f.name: kwargs.pop(f"{f.name}_timeout") for f in fields(Timeouts)}
        return command(timeouts=Timeouts(**given), **kwargs)

    decorated: Callable[..., Any] = with_timeouts
    for timeout in reversed(fields(Timeouts)):  # click lists the option added last first
        decorated = click.option(
            f"--{timeout.name}-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=timeout.default,
            show_default=True,
            help=_TIMEOUT_HELP[timeout.name],
        )(decorated)
    return decorated  # type: ignore[return-value]  # same call, four options folded into one


def embedded_server_options(*, embedded_only: bool) -> Callable[[F], F]:
    """``--defect``, ``--fault``, ``--latency`` and ``--chunk-delay``: what the reference server
    is to do wrong or slowly. ``embedded_only``: the help says they need the embedded server."""
    prefix = "Embedded server only: " if embedded_only else ""

    def say(text: str) -> str:
        return prefix + (text[0].lower() if prefix else text[0]) + text[1:]

    def decorate(command: F) -> F:
        for option in reversed(
            [
                click.option(
                    "--defect",
                    "defects",
                    multiple=True,
                    metavar="NAME",
                    help=say("Switch on a deliberate defect (repeatable; `conformance defects`)."),
                ),
                click.option(
                    "--fault",
                    "faults",
                    multiple=True,
                    metavar="NAME",
                    help=say("Switch on a network fault (repeatable; `conformance faults`)."),
                ),
                click.option(
                    "--latency",
                    metavar="DURATION",
                    default=None,
                    help=say("Delay every answer, e.g. 300ms."),
                ),
                click.option(
                    "--chunk-delay",
                    metavar="DURATION",
                    default=None,
                    help=say("Pause between stream events, e.g. 20ms."),
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


def server_mode_option(flag: str, name: str, *, prefix: str = "") -> Callable[[F], F]:
    """The reference server's mode, ``toy`` or ``model`` (``ServerConfig.mode``)."""
    return click.option(
        flag,
        name,
        type=click.Choice(["toy", "model"]),
        default="toy",
        show_default=True,
        help=f"{prefix}toy: deterministic answers (a dictated reply is obeyed); model: like a "
        "small sampling model (ignores instructions, writes random word pieces, stops at random "
        "or at the cap, calls random tools, grammar-constrained JSON), different on every "
        "request unless seeded.",
    )


def server_options(
    settings: Settings,
    defects: tuple[str, ...],
    faults: tuple[str, ...],
    latency: str | None,
    chunk_delay: str | None,
    *,
    mode: str = "toy",
) -> dict[str, Any]:
    """The embedded server's faults, pacing and mode, its defects checked: a ``ConfigError``
    for a name it does not know, or for any of them with a real endpoint."""
    given = [
        n
        for n, v in (
            ("--fault", faults),
            ("--latency", latency),
            ("--chunk-delay", chunk_delay),
            ("--defect", defects),
            ("--server-mode", mode != "toy"),
        )
        if v
    ]
    if given and not settings.embedded:
        raise ConfigError(
            f"{given[0]} applies to the embedded reference server only; leave out --base-url "
            "(and CONFORMANCE_BASE_URL / OPENAI_BASE_URL) to use it."
        )
    from conformance.server import DEFECTS, FAULTS

    for option, names, known in (("--fault", faults, FAULTS), ("--defect", defects, DEFECTS)):
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ConfigError(
                f"{option} {unknown[0]!r} is unknown. Known {option[2:]}s: "
                f"{', '.join(sorted(known))}."
            )
    return {
        "faults": frozenset(faults),
        "latency_s": parse_duration(latency, "--latency") if latency else 0.0,
        "chunk_delay_s": parse_duration(chunk_delay, "--chunk-delay") if chunk_delay else 0.0,
        "mode": mode,
    }
