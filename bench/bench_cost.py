"""What a default run costs in tokens: measured on the reference server (one word, one
token), and the most a real model could bill for the same requests.

    python3 -m bench.bench_cost

The upper bound per request: the prompt at one token per 3 characters of the JSON sent
(messages, tools, response_format: denser than real tokenizers manage) plus 12 tokens of
chat template, plus the output cap (max_tokens or max_completion_tokens) times n. Requests
that a conformant endpoint refuses (invalid_*, wrong key) are counted as if served. The
evidence budget (``--evidence-tokens``, trials past ``--trials`` for sampled checks that saw
no violation) is added whole: the engine never spends more than it on extra trials.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from conformance.checks import get_probe, registered_checks
from conformance.engine._evidence import (
    DEFAULT_EVIDENCE_TOKENS,
    worst_case_output,
    worst_case_prompt,
)
from conformance.run._settings import DEFAULT_TRIALS


def upper_bound(trials: int = DEFAULT_TRIALS) -> tuple[int, int, int]:
    """(requests, prompt tokens, completion tokens) at most: a sampled probe is sent once
    per trial, and every follow-up (asked again) as if it were always needed."""
    probes: list[str] = []
    for check in registered_checks():
        probes += [p for p in check.probes if p not in probes]
    requests = prompt = completion = 0
    for probe_id in probes:
        probe = get_probe(probe_id)
        times = trials if probe.sampled else 1
        body = probe.body("some-model")
        requests += times
        prompt += times * worst_case_prompt(body)
        completion += times * worst_case_output(body)
    return requests, prompt, completion


def measured() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "conformance", "run", "-q", "--report-dir", tmp],
            capture_output=True,
            check=False,
        )
        data: dict[str, object] = json.loads((Path(tmp) / "results.json").read_text())
        return data


def main() -> None:
    data = measured()
    tokens = data["tokens"]
    assert isinstance(tokens, dict)
    print(f"reference server: {data['requests']} requests, {tokens['total']} tokens "
          f"({tokens['prompt']} prompt, {tokens['completion']} completion)")  # fmt: skip
    areas = data["areas"]
    assert isinstance(areas, dict)
    for area, row in areas.items():
        print(f"  {area:16} {row['checks']:3} checks {row['requests']:4} requests "
              f"{row['tokens']:6} tokens")  # fmt: skip
    probes, prompt, completion = upper_bound()
    total = prompt + completion + DEFAULT_EVIDENCE_TOKENS
    print(f"real model, at most: {probes} requests at --trials, {total} tokens "
          f"({prompt} prompt, {completion} completion, {DEFAULT_EVIDENCE_TOKENS} evidence "
          "budget for trials past --trials); target < 20,000")  # fmt: skip


if __name__ == "__main__":
    main()
