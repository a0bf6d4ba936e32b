"""Plain-text rendering of check results, for the terminal and JUnit failure messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from conformance.checks._model import Finding
from conformance.engine._result import CheckResult
from conformance.report._causes import explained_by_cause, finding_groups, root_causes
from conformance.report._fixes import fix_hint
from conformance.run._scores import all_checks
from conformance.wire._visible import visible


def clipped(value: Any, limit: int = 300) -> str:
    """``value`` as text (JSON unless a string), cut at ``limit`` characters with the length."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def describe_exchange(finding: Finding) -> str:
    exchange = finding.exchange
    if exchange is None:
        return ""
    status = exchange.status if exchange.status is not None else "no response"
    where = f"probe {exchange.id}: {exchange.request.method} {exchange.request.url} -> {status}"
    if finding.chunk_index is not None:
        where += f", event {finding.chunk_index}"
    return where


def trial_rate(seen: int, trials: int) -> str:
    """ " (in 3 of 5 trials)" for a finding of a repeated probe; "" for a probe sent once."""
    return f" (in {seen} of {trials} trials)" if trials > 1 else ""


def render_finding(finding: Finding) -> str:
    count = f" (seen {finding.count} times)" if finding.count > 1 else ""
    lines = [f"  x {finding.title}{count}{trial_rate(finding.seen, finding.trials)}"]
    lines.append(f"    at {finding.json_path}")
    if finding.schema_path:
        lines.append(f"    schema: {finding.schema_path}")
    lines.append(f"    expected: {clipped(finding.expected)}")
    lines.append(f"    actual:   {clipped(finding.actual)}")
    where = describe_exchange(finding)
    if where:
        lines.append(f"    {where}")
    return "\n".join(lines)


def render_result(result: CheckResult) -> str:
    check = result.check
    head = (
        f"{check.id} [{result.verdict.value}, {check.severity.value}, {check.area}]: "
        f"{check.title}\n  spec: {check.spec}"
    )
    body = [render_finding(f) for f in result.findings]
    if result.trials > 1:
        body.append(f"  trials: {result.trials}, provoked in {result.provoked}")
    if result.reason:
        body.append(f"  reason: {result.reason}")
    return visible("\n".join([head, *body]))


def curl_command(exchange: Any) -> str:
    """A shell command that repeats the exchange's request; the key comes from the
    environment (``$CONFORMANCE_API_KEY``), never from the report."""
    import shlex

    request = exchange.request
    parts = ["curl", "-sS", "-N", "-X", request.method, shlex.quote(request.url)]
    sent_auth = any(k.lower() == "authorization" for k in request.headers)
    if sent_auth:
        parts += ["-H", '"Authorization: Bearer $CONFORMANCE_API_KEY"']
    parts += ["-H", shlex.quote("Content-Type: application/json")]
    body = request.body if isinstance(request.body, str) else json.dumps(request.body)
    parts += ["--data-raw", shlex.quote(body)]
    return " ".join(parts)


def outcome_lines(data: Mapping[str, Any], *, per_check: int = 2) -> list[str]:
    """A run read by cause first, then per check: one line per root cause (with the checks
    it left inconclusive), then one line per FAIL, WARN or ERROR check it does not explain,
    its findings grouped by rule and JSON path with the probes that showed them."""
    causes = root_causes(data)
    lines = [f"cause: {cause.line()}" for cause in causes]
    explained = explained_by_cause(causes)
    for check in all_checks(data):
        verdict, check_id = str(check.get("verdict")), str(check.get("id"))
        if verdict not in ("FAIL", "WARN", "ERROR") or check_id in explained:
            continue
        if verdict == "ERROR":
            lines.append(f"ERROR {check_id}: {clipped(str(check.get('reason') or ''), 160)}")
            continue
        groups = finding_groups(check.get("findings") or [])
        head = groups[0].line() if groups else str(check.get("title"))
        lines.append(f"{verdict} {check_id}: {head}")
        lines += [f"  also: {g.line()}" for g in groups[1:per_check]]
        if len(groups) > per_check:
            lines.append(f"  and {len(groups) - per_check} more in the report")
        lines += _example_lines(data, check_id)
        fix = fix_hint(check_id)
        if fix:
            lines.append(f"  fix: {fix}")
    return [visible(line, one_line=True) for line in lines]


def _example_lines(data: Mapping[str, Any], check_id: str) -> list[str]:
    """An exploration property's smallest failing request and how to replay the run."""
    explored = data.get("explore")
    if not isinstance(explored, Mapping):
        return []
    found = [
        f
        for f in explored.get("findings") or []
        if isinstance(f, Mapping) and f.get("property") == check_id
    ]
    if not found:
        return []
    first = found[0]
    shrunk = "shrunk" if first.get("shrunk") else "smallest seen"
    fields = ", ".join(str(f) for f in first.get("fields") or [])
    return [
        f"  {shrunk} example (fields: {fields}): {clipped(first.get('example'), 200)}; "
        f"replay: --seed {explored.get('seed')}"
    ]
