"""How much exploration may send and spend: light on imports, so the CLI and the pytest
plugin can read the defaults without loading hypothesis."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_EXAMPLES = 100  # generated requests per phase
VALID, INVALID = "valid", "invalid"


@dataclass(frozen=True)
class Shaping:
    """The caps on a generated request: what one request may cost, at most."""

    max_tokens: int = 16  # max_tokens and max_completion_tokens
    n: int = 2
    top_logprobs: int = 5
    array_items: int = 2  # messages, tools, stop, content parts
    string_length: int = 20

    def caps(self) -> dict[str, int]:
        return {
            "max_tokens": self.max_tokens,
            "max_completion_tokens": self.max_tokens,
            "n": self.n,
            "top_logprobs": self.top_logprobs,
        }


@dataclass(frozen=True)
class ExploreOptions:
    """How much to explore: generated requests per phase, the seed, the caps, shrinking."""

    examples: int = DEFAULT_EXAMPLES
    seed: int | None = None  # None: a fresh one, printed and stored so it can be replayed
    phases: tuple[str, ...] = (VALID, INVALID)
    shaping: Shaping = field(default_factory=Shaping)
    shrink_requests: int = 30  # per failure; all shrinking of a phase stays under `examples`
    concurrency: int = 8

    def __post_init__(self) -> None:
        if self.examples < 1:
            raise ValueError(f"--examples {self.examples} must be at least 1")
        unknown = sorted(set(self.phases) - {VALID, INVALID})
        if unknown:
            raise ValueError(
                f"unknown exploration phase {unknown[0]!r}; use {VALID!r}, {INVALID!r}"
            )

    @property
    def shrink_cap(self) -> int:
        return self.shrink_requests
