"""What the client replay means for the findings: which tested clients each one breaks, the
client breaks no finding names (they become findings of ``client_reads_exchange``), and a
readiness line per client (READY, LIMITED with the features, NOT READY).

A break is linked to the findings on the same exchange that name what broke: first those
whose JSON path names the field the client got wrong (role, tool_calls, ...; for an
exception, the fields its message names), else those about the choices on the event the
client failed at, else (an exception nobody located) every finding about the choices there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.checks._model import Finding, probe_family
from conformance.clients._replay import ClientRun, Replay
from conformance.wire._exchange import Exchange

CLIENT_CHECK = "client_reads_exchange"
READY, LIMITED, NOT_READY = "READY", "LIMITED", "NOT READY"
FEATURES = ("streaming", "tools", "streamed tools", "usage", "logprobs", "reasoning")


def linked(run: ClientRun, findings: Iterable[Finding]) -> list[Finding]:
    """The findings that name what broke ``run`` (empty: nothing names it)."""
    here = [f for f in findings if _covers(f, run.exchange)]
    topics = run.topics - {"exception"}
    by_field = [f for f in here if any(_names(f.json_path, t) for t in topics)]
    if by_field:
        return by_field
    # Else what the choices carried where the client failed (or anywhere, when nobody
    # located it): a finding about the envelope or usage is not what an accumulator trips on.
    in_choices = [f for f in here if f.json_path.startswith("$.choices")]
    events = run.events
    if events:  # an event is located on the finding's own example only
        return [f for f in in_choices if f.chunk_index in events or not _example(f, run.exchange)]
    return in_choices if not topics else []


def _example(finding: Finding, exchange: str) -> bool:
    return finding.exchange is not None and finding.exchange.id == exchange


def _covers(finding: Finding, exchange: str) -> bool:
    """``finding`` was shown by ``exchange``: its example, or a probe (family) it lists (one
    finding stands for every probe and trial that showed the same problem)."""
    if finding.check_id == CLIENT_CHECK:
        return False
    return _example(finding, exchange) or probe_family(exchange) in finding.shown_by


def _names(json_path: str, topic: str) -> bool:
    return f".{topic}" in json_path or (topic == "choices" and ".choices" in json_path)


def unnamed(replay: Replay, findings: Sequence[Finding]) -> list[ClientRun]:
    """The client breaks that no finding names."""
    return [run for run in replay.breaks() if not linked(run, findings)]


def break_finding(run: ClientRun, exchange: Exchange | None) -> Finding:
    """A client break no other finding names, as a finding of its own."""
    first = run.differences[0] if run.differences else None
    what = "fails on" if run.error is not None else "misreads"
    topic = "the answer" if first is None else first.topic
    path = "$" if first is None else f"$.{first.field}"
    return Finding(
        title=f"{run.client} {run.version} ({run.mode}) {what} {topic}: {run.what()}",
        # Stable: the client, its mode and the field, never a value from the answer.
        kind=" ".join((run.client, run.mode, what, topic)),
        json_path=path,
        expected="what the bytes say" if first is None else first.want,
        actual=run.error if first is None else first.got,
        chunk_index=run.chunk_index if first is None else first.chunk_index,
        exchange=exchange,
    )


@dataclass(frozen=True)
class Impact:
    """Which tested clients one finding breaks, and which read its exchange right."""

    breaks: list[ClientRun]
    reads: list[str]
    replayed: bool  # False: its exchange was not replayed (not a readable 2xx answer)

    def summary(self) -> str:
        if not self.replayed:
            return "not replayed: no client reading of this exchange"
        if not self.breaks:
            return "every tested client reads it" if self.reads else "no client was tested"
        parts: dict[str, list[str]] = {}
        for run in self.breaks:
            parts.setdefault(run.client, []).append(f"{run.mode}: {run.what()}")
        broke = ", ".join(f"{c} ({'; '.join(v[:2])})" for c, v in parts.items())
        read = f"; {', '.join(self.reads)} read{'s' if len(self.reads) == 1 else ''} it"
        return f"breaks {broke}{read if self.reads else ''}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "breaks": [
                {"client": r.client, "version": r.version, "mode": r.mode, "what": r.what()}
                for r in self.breaks
            ],
            "reads": list(self.reads),
            "summary": self.summary(),
        }


def impact(finding: Finding, replay: Replay) -> Impact:
    """What ``finding`` does to the tested clients, measured on its exchange."""
    shown = {e for e in replay.exchanges if _example(finding, e) or _shown_by(finding, e)}
    if not shown:
        return Impact([], [], replayed=False)
    runs = [r for r in replay.runs if r.exchange in shown]
    breaks = [r for r in runs if r.broken and (finding in linked(r, [finding]) or _own(finding, r))]
    broken = {r.client for r in breaks}
    reads = sorted({r.client for r in runs} - broken - {r.client for r in runs if r.broken})
    return Impact(breaks, reads, replayed=True)


def _shown_by(finding: Finding, exchange: str) -> bool:
    return probe_family(exchange) in finding.shown_by


def _own(finding: Finding, run: ClientRun) -> bool:
    return finding.check_id == CLIENT_CHECK and finding.kind.startswith(f"{run.client} {run.mode} ")


def features(run: ClientRun, exchange: Exchange | None) -> list[str]:
    """The features a break limits ("streamed tools", "usage", ...); empty: the plain
    request itself (the client is NOT READY)."""
    topics = run.topics
    streamed = exchange is not None and exchange.streamed
    body = exchange.request.body if exchange is not None else None
    body = body if isinstance(body, dict) else {}
    out: list[str] = []
    if "tool_calls" in topics or (body.get("tools") and "exception" in topics):
        out.append("streamed tools" if streamed else "tools")
    for topic in ("usage", "logprobs", "reasoning"):
        if topic in topics:
            out.append(topic)
    if not out and topics == {"exception"}:  # not located: the feature the request asked for
        if body.get("logprobs"):
            out.append("logprobs")
        elif body.get("reasoning_effort"):
            out.append("reasoning")
    if not out and streamed:
        out.append("streaming")
    return out


def readiness(replay: Replay, exchanges: Sequence[Exchange]) -> dict[str, dict[str, Any]]:
    """Per client: READY, LIMITED (and which features) or NOT READY, with the evidence;
    SKIP or ERROR when the client was not run."""
    by_id = {e.id: e for e in exchanges}
    out: dict[str, dict[str, Any]] = {}
    for client in replay.clients:
        if client.skipped is not None or client.error is not None:
            out[client.name] = {
                "status": "SKIP" if client.skipped is not None else "ERROR",
                "version": client.version,
                "features": [],
                "reason": client.skipped or client.error,
                "evidence": [],
            }
            continue
        limited: list[str] = []
        core = False
        evidence = []
        for run in replay.breaks():
            if run.client != client.name:
                continue
            found = features(run, by_id.get(run.exchange))
            core = core or not found
            limited += [f for f in found if f not in limited]
            evidence.append({"exchange": run.exchange, "mode": run.mode, "what": run.what()})
        status = NOT_READY if core else LIMITED if limited else READY
        read = sum(1 for r in replay.runs if r.client == client.name)
        out[client.name] = {
            "status": status,
            "version": client.version,
            "features": [f for f in FEATURES if f in limited],
            "reason": f"{read - len(evidence)} of {read} readings right",
            "evidence": evidence,
        }
    return out


def readiness_line(name: str, entry: dict[str, Any]) -> str:
    """``openai-python 3.63.0: LIMITED (streaming, tools)`` for the report and the terminal."""
    version = f" {entry['version']}" if entry.get("version") else ""
    features = f" ({', '.join(entry['features'])})" if entry.get("features") else ""
    reason = f": {entry['reason']}" if entry["status"] in ("SKIP", "ERROR") else ""
    return f"{name}{version}: {entry['status']}{features}{reason}"
