"""How long to wait for an endpoint: connecting, the first data, silences, the whole exchange."""

from __future__ import annotations

from dataclasses import dataclass

from conformance._errors import ConfigError


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait. ``read`` bounds the response headers, each read of a non-stream body
    and the first piece of a stream; ``idle`` each later silence in a stream; ``total`` all."""

    connect: float = 10.0
    read: float = 60.0
    idle: float = 30.0
    total: float = 120.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "idle", "total"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(
                    f"the {name} timeout {value!r} must be a positive number of seconds; "
                    f"for example {getattr(Timeouts, name)}."
                )
