"""Every request the suite sends is bounded in tokens, and a default run stays cheap."""

from __future__ import annotations

import json

from conformance.checks import get_probe, registered_checks
from conformance.checks.response_format import AGAIN_TOKENS

OUTPUT_CAP = 64  # the most output tokens any probe may ask for
# ...except a JSON probe asked again because its first answer was cut by the cap: it gets
# room to finish (sent only when the first answer was cut, once per trial)
AGAIN_CAP = AGAIN_TOKENS
PROMPT_CHARS = 1200  # the longest request (tools, schemas) in characters of JSON


def default_probes():
    probes = []
    for check in registered_checks():
        probes += [p for p in check.probes if p not in probes]
    return [get_probe(p) for p in probes]


def test_every_probe_caps_its_output_and_keeps_its_prompt_short():
    for probe in default_probes():
        body = probe.body("m")
        cap = body.get("max_completion_tokens", body.get("max_tokens"))
        wants = body.get("n") if isinstance(body.get("n"), int) else 1
        served = wants <= 2  # n: 0 and n: 129 are invalid probes, refused unanswered
        if probe.id.startswith("invalid_"):
            continue  # broken on purpose, refused unanswered by a conformant endpoint
        assert isinstance(cap, int), probe.id
        assert cap <= (AGAIN_CAP if probe.build is not None else OUTPUT_CAP), probe.id
        assert served, probe.id
        sent = {k: v for k, v in body.items() if k in ("messages", "tools", "response_format")}
        assert len(json.dumps(sent)) <= PROMPT_CHARS, probe.id


def test_a_default_run_costs_far_less_than_20000_tokens_on_any_model():
    # Upper bound: 1 token per 3 characters sent plus 12 of chat template, plus the cap x n.
    total = 0
    for probe in default_probes():
        body = probe.body("m")
        sent = {k: v for k, v in body.items() if k in ("messages", "tools", "response_format")}
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        cap = cap if isinstance(cap, int) else OUTPUT_CAP
        n = body.get("n") if isinstance(body.get("n"), int) else 1
        total += len(json.dumps(sent)) // 3 + 12 + cap * max(1, min(n, 2))
    assert total < 20_000
