"""Hard ceilings on what a run may spend: requests sent and tokens billed.

Whoever sends a request asks :meth:`Budget.admit` first and reports the exchange to
:meth:`Budget.charge` after; once a ceiling is reached nothing more is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.wire._exchange import Exchange


@dataclass
class Budget:
    max_requests: int | None = None
    max_tokens: int | None = None  # prompt + completion, from usage (estimated where absent)
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: int = 0  # exchanges whose tokens were estimated, not reported

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def spent(self) -> str | None:
        """Why nothing more may be sent, or None while there is budget left."""
        if self.max_requests is not None and self.requests >= self.max_requests:
            return (
                f"the request budget is spent ({self.requests} of --max-requests "
                f"{self.max_requests})"
            )
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"the token budget is spent ({self.tokens} of --max-tokens {self.max_tokens})"
        return None

    def admit(self) -> str | None:
        """Reserve one request; the reason it may not be sent when the budget is spent."""
        reason = self.spent()
        if reason is None:
            self.requests += 1
        return reason

    def charge(self, exchange: Exchange) -> None:
        """Add the exchange's tokens: reported usage, or an estimate when it has none."""
        cost = _cost(exchange)
        if cost is None:
            return
        prompt, completion, estimated = cost
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.estimated += estimated


def exchange_tokens(exchange: Exchange) -> int:
    """Tokens one exchange cost: reported usage, else an estimate; 0 for errors."""
    cost = _cost(exchange)
    return 0 if cost is None else cost[0] + cost[1]


def _cost(exchange: Exchange) -> tuple[int, int, bool] | None:
    """:func:`_count`, once per exchange (it parses the body, which may be huge)."""
    cost: tuple[int, int, bool] | None = exchange.memo("cost", lambda: _count(exchange))
    return cost


def _count(exchange: Exchange) -> tuple[int, int, bool] | None:
    """(prompt, completion, estimated) tokens: a 2xx answer's reported usage, else (none,
    or an implausible count: ``Exchange.usage``) an estimate. A 3xx redirect costs nothing,
    whatever its body says: it is not followed, no model answered. A 4xx or 5xx refusal is
    charged only the usage it reports itself: nothing is estimated. No answer at all costs
    nothing. Every request sent still counts against ``--max-requests``."""
    if exchange.status is None or 300 <= exchange.status < 400:
        return None
    usage = exchange.usage()
    if usage is not None:
        return usage[0], usage[1], False
    if not 200 <= exchange.status < 300:
        return None
    prompt, completion = exchange.estimated_usage()
    return prompt, completion, True
