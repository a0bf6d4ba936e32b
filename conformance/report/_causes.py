"""Reading a run by cause: what made many checks inconclusive, then each check's findings.

Rendered from ``results.json`` data only (the terminal summary, report.html and compare
share it). A cause is what the network or the endpoint's infrastructure did to many
requests at once (a gateway answering every stream with an HTML 502, every request
refused 401): one line for the cause and the checks it left inconclusive or failed,
instead of one block per check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.run._scores import all_checks

_STATUS_KINDS = {"gateway-error-page", "rate-limited", "server-error"}


@dataclass
class Cause:
    """Requests that all met the same fault, and the checks it decided."""

    what: str  # "got 502 Bad Gateway (a gateway's HTML error page)"
    requests: list[str]  # the exchanges it hit
    scope: str = ""  # "every stream: true request", filled by :func:`root_causes`
    checks: dict[str, list[str]] = field(default_factory=dict)  # verdict -> check ids

    def line(self, names: int = 3) -> str:
        """``every stream: true request (29 of 120) got 502 ...: 30 checks inconclusive``."""
        parts = []
        for verdict, label in (("ERROR", "inconclusive"), ("FAIL", "FAIL"), ("WARN", "WARN")):
            ids = self.checks.get(verdict, [])
            if ids:
                count = f"{len(ids)} {plural(len(ids), 'check')}"
                parts.append(f"{count} {label} ({names_of(ids, names)})")
        decided = "; ".join(parts) or "no check depended on them alone"
        return f"{self.scope} {self.what}: {decided}"


def plural(n: int, word: str) -> str:
    """``check`` for one, ``checks`` for any other count."""
    return word if n == 1 else word + "s"


def names_of(ids: Sequence[str], limit: int = 3) -> str:
    """``a, b, c and 27 more``."""
    shown = ", ".join(ids[:limit])
    return shown if len(ids) <= limit else f"{shown} and {len(ids) - limit} more"


def _describe_fault(fault: Mapping[str, Any]) -> str:
    kind = str(fault.get("kind", ""))
    message = str(fault.get("message", ""))
    if kind in _STATUS_KINDS:
        status = message.split(" after ", maxsplit=1)[0]
        if kind == "gateway-error-page":
            return f"got {status} (a gateway's HTML error page)"
        if kind == "rate-limited":
            return f"was still refused {status} after its retries"
        return f"got {status}"
    return f"failed ({kind or 'transport'}): {message.split(';', maxsplit=1)[0]}"


def _streamed(exchange: Mapping[str, Any]) -> bool:
    request = exchange.get("request")
    body = request.get("body") if isinstance(request, Mapping) else None
    return isinstance(body, Mapping) and body.get("stream") is True


def _scope(hit: set[str], exchanges: Sequence[Mapping[str, Any]]) -> str:
    ids = [str(e.get("id")) for e in exchanges]
    total = len(ids)
    streams = {str(e.get("id")) for e in exchanges if _streamed(e)}
    if hit == set(ids):
        return f"every request ({total})"
    if streams and hit == streams:
        return f"every stream: true request ({len(hit)} of {total})"
    ordered = [i for i in ids if i in hit] or sorted(hit)
    return f"{len(hit)} of {total} requests ({names_of(ordered)})"


def root_causes(data: Mapping[str, Any]) -> list[Cause]:
    """The faults that left checks inconclusive, one per kind of answer, biggest first;
    and a status every request got (all refused 401), which no single check explains."""
    exchanges = [e for e in data.get("exchanges", []) if isinstance(e, Mapping)]
    causes: dict[str, Cause] = {}
    for fault in data.get("faults", []) or []:
        if not isinstance(fault, Mapping) or fault.get("recovered"):
            continue
        what = _describe_fault(fault)
        causes.setdefault(what, Cause(what, [])).requests.append(str(fault.get("exchange")))
    statuses = {
        (e.get("response") or {}).get("status") for e in exchanges if isinstance(e, Mapping)
    }
    if exchanges and len(statuses) == 1:
        status = next(iter(statuses))
        if isinstance(status, int) and status >= 400 and not causes:
            what = f"was answered {status}"
            causes[what] = Cause(what, [str(e.get("id")) for e in exchanges])
    out = []
    for cause in causes.values():
        hit = set(cause.requests)
        cause.scope = _scope(hit, exchanges)
        for check in all_checks(data):
            verdict = str(check.get("verdict"))
            used = {str(x) for x in check.get("exchanges", []) or check.get("probes", [])}
            # a FAIL or WARN is the cause's only when all its exchanges met it
            decided = verdict == "ERROR" or (verdict in ("FAIL", "WARN") and used <= hit)
            if decided and used & hit:
                cause.checks.setdefault(verdict, []).append(str(check.get("id")))
        out.append(cause)
    return sorted(out, key=lambda c: -sum(len(v) for v in c.checks.values()))


def explained_by_cause(causes: Sequence[Cause]) -> set[str]:
    """The ids of the checks a cause already accounts for (not listed again one by one)."""
    return {cid for cause in causes for ids in cause.checks.values() for cid in ids}


@dataclass
class FindingGroup:
    """A check's findings of one rule at one JSON path, with every probe that showed them."""

    title: str
    json_path: str
    probes: list[str]
    seen: int = 0
    trials: int = 0

    def line(self) -> str:
        rate = f", in {self.seen} of {self.trials} trials" if self.trials > 1 else ""
        probes = f"{plural(len(self.probes), 'probe')} {names_of(self.probes, 4)}"
        return f"{self.title} at {self.json_path} ({probes}{rate})"


def finding_probes(finding: Mapping[str, Any]) -> list[str]:
    """The probes that showed a finding: its ``probes`` list when the finding carries one
    (merged across probes), else its single exchange."""
    probes = finding.get("probes")
    if isinstance(probes, list | tuple) and probes:
        return [str(p) for p in probes]
    exchange = finding.get("exchange")
    return [str(exchange).split("#")[0]] if exchange else []


def finding_groups(findings: Sequence[Mapping[str, Any]]) -> list[FindingGroup]:
    """Findings grouped by (kind, JSON path), in order of first appearance."""
    groups: dict[tuple[str, str], FindingGroup] = {}
    for finding in findings:
        key = (str(finding.get("kind") or finding.get("title")), str(finding.get("json_path")))
        group = groups.get(key)
        if group is None:
            group = groups[key] = FindingGroup(
                str(finding.get("title")), str(finding.get("json_path")), []
            )
        for probe in finding_probes(finding):
            if probe not in group.probes:
                group.probes.append(probe)
        group.seen = max(group.seen, int(finding.get("seen") or 0))
        group.trials = max(group.trials, int(finding.get("trials") or 0))
    return list(groups.values())
