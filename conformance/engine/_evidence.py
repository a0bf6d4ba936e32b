"""How many samples a sampled check needs before its PASS means something (issue 19).

A defect that shows in a fraction of a model's answers (llama-server ends a tool call with
``stop`` in some samples) flips a verdict between runs when each run judges a fixed few
samples. So a sampled check that saw no violation in its ``--trials`` (the floor) is given
more trials, while an evidence budget lasts, until its samples support "0 of N samples:
rate below X% at 95%" with X at most ``TARGET_RATE``; the bound reached is reported either
way. The bound is the exact (Clopper-Pearson) one-sided 95% upper bound for zero events
in N trials, 1 - 0.05^(1/N), which the rule of three (3/N) approximates. A sampled check
that none of its trials provoked (no tool called under "auto") is given up to
``UNPROVOKED_TRIALS`` more first, from the same budget.

The budget is counted in tokens the extra exchanges really cost (reported usage, else an
estimate), and a trial is sent only when its worst case (``worst_case_tokens``) fits in
what is left, so a run never spends more than the budget on evidence.
"""

from __future__ import annotations

import json
import math
from typing import Any

CONFIDENCE = 0.95
TARGET_RATE = 0.10  # a sampled check PASSes with "rate below 10%" when the budget allows
DEFAULT_EVIDENCE_TOKENS = 1500  # tokens a default run may spend on extra trials
MAX_EXTRA_TRIALS = 40  # whatever the budget: no check is sampled past this many trials
# A sampled check that no trial provoked gets up to this many more, from the same budget.
UNPROVOKED_TRIALS = 2
TEMPLATE_TOKENS = 12  # a chat template's tokens around the messages
CHARS_PER_TOKEN = 3  # denser than real tokenizers manage: an upper bound


def rate_bound(samples: int) -> float:
    """The exact one-sided 95% upper bound on a rate seen 0 times in ``samples``."""
    if samples <= 0:
        return 1.0
    return float(1.0 - (1.0 - CONFIDENCE) ** (1.0 / samples))


def samples_needed(target: float = TARGET_RATE) -> int:
    """The fewest samples whose bound is at most ``target``."""
    return math.ceil(math.log(1.0 - CONFIDENCE) / math.log(1.0 - target))


def statement(samples: int) -> str:
    """ "0 of N samples: rate below X% at 95%" for a check that saw no violation."""
    percent = rate_bound(samples) * 100
    shown = f"{percent:.0f}" if percent >= 10 else f"{percent:.1f}"
    return f"0 of {samples} samples: rate below {shown}% at {CONFIDENCE:.0%}"


def worst_case_tokens(body: dict[str, Any]) -> int:
    """The most a real model could bill for ``body``: ``worst_case_prompt`` plus
    ``worst_case_output``."""
    return worst_case_prompt(body) + worst_case_output(body)


def worst_case_prompt(body: dict[str, Any]) -> int:
    """The prompt at one token per three characters of what is sent (messages, tools,
    response_format), plus a chat template."""
    sent = {k: v for k, v in body.items() if k in ("messages", "tools", "response_format")}
    return len(json.dumps(sent)) // CHARS_PER_TOKEN + TEMPLATE_TOKENS


def worst_case_output(body: dict[str, Any]) -> int:
    """The output cap (max_tokens or max_completion_tokens) times n (at most 2 here)."""
    cap = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) else 1
    try:
        output = int(cap)
    except (TypeError, ValueError):
        output = 0
    return output * max(1, min(choices, 2))
