"""A run as CI tools show it: a Markdown summary and workflow annotations.

From results.json data only (``run/_results.build``), so ``conformance summary`` renders
a stored run the same way the run itself does:

- :func:`run_markdown`: the outcome, the gate's decision (new, known, stale findings),
  the failing and warning checks with their findings, per-area scores. GitHub Actions
  shows it as the job summary (``$GITHUB_STEP_SUMMARY``); GitLab and others as a file
  (``conformance summary reports/results.json -o summary.md``: an artifact, or a merge
  request note).
- :func:`workflow_annotations`: GitHub Actions workflow commands (``::error``/``::warning``), one
  per finding that failed the gate (error), per other FAIL/WARN finding and stale
  baseline entry (warning), and one for a run that could not conclude.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.run._baseline import finding_identity, key
from conformance.run._scores import all_checks, area_scores
from conformance.wire._visible import markdown_text, visible

FINDINGS_SHOWN = 20  # per section of the summary: a page, not a log
ANNOTATIONS = 10  # GitHub shows ten errors and ten warnings per step


def md(text: Any) -> str:
    """Text for a Markdown table cell or list item: one line, taken literally."""
    return markdown_text(" ".join(str(text).split("\n"))).strip()


def code(text: Any) -> str:
    """A code span in a table cell: no escapes inside one, so none is added (a backtick or
    a pipe, which would end it or the cell, is replaced)."""
    return "`" + " ".join(str(text).split()).replace("`", "'").replace("|", "\\|") + "`"


def _where(ident: Mapping[str, Any]) -> str:
    probes = ", ".join(ident.get("probes") or [])
    return code(ident["json_path"]) + (f" (probes: {md(probes)})" if probes else "")


def run_markdown(data: Mapping[str, Any]) -> str:
    """The run as a Markdown summary (GitHub job summary, GitLab report, PR comment)."""
    endpoint = data.get("endpoint") or {}
    where = (
        "the embedded reference server" if endpoint.get("embedded") else endpoint.get("base_url")
    )
    verdict = str(data.get("verdict", ""))
    exit_code = data.get("exit_code")
    totals = data.get("totals") or {}
    counts = ", ".join(f"{n} {v}" for v, n in totals.items() if n)
    counted = f" ({md(counts)})" if counts else ""
    out = [
        f"## Conformance: {md(verdict)} (exit code {exit_code})",
        "",
        f"{md(where)}, model {code(data.get('model', ''))}, profile "
        f"{code(data.get('profile', ''))}: {len(all_checks(data))} checks{counted}; "
        f"{data.get('requests', 0)} requests.",
    ]
    out += [f"> {md(note)}" for note in data.get("notes") or []]
    gate = data.get("gate") or {}
    out += _gate_lines(gate, exit_code)
    failing = [c for c in all_checks(data) if c.get("verdict") in ("FAIL", "WARN")]
    if failing:
        out += ["", "### Findings", "", "| check | verdict | where | finding | gate |"]
        out.append("| --- | --- | --- | --- | --- |")
        known = {key(k) for k in gate.get("known", [])}
        new = {key(n) for n in gate.get("new", [])}
        passes = f"does not fail the run (--fail-on {gate.get('fail_on', 'fail')})"
        rows = []
        for check in failing:
            for finding in check.get("findings", []):
                ident = finding_identity(check, finding)
                state = (
                    "known (baseline)"
                    if key(ident) in known
                    else "**new: fails the run**"
                    if key(ident) in new
                    else passes
                )
                rate = (
                    f" (in {finding['seen']} of {finding['trials']} trials)"
                    if (int(finding.get("trials") or 1) > 1)
                    else ""
                )
                rows.append(
                    f"| {code(check.get('id'))} | {md(check.get('verdict'))} | {_where(ident)} "
                    f"| {md(finding.get('title', ''))}{rate} | {state} |"
                )
        out += rows[:FINDINGS_SHOWN]
        if len(rows) > FINDINGS_SHOWN:
            out.append(f"| | | | and {len(rows) - FINDINGS_SHOWN} more (results.json) | |")
    errors = [c for c in all_checks(data) if c.get("verdict") == "ERROR"]
    if errors:
        out += ["", f"**{len(errors)} checks inconclusive** (ERROR: never nonconformance):", ""]
        out += [
            f"- {code(c.get('id'))}: {md(c.get('reason', ''))}" for c in errors[:FINDINGS_SHOWN]
        ]
    scores = area_scores(all_checks(data))
    if scores:
        out += ["", "| area | score |", "| --- | --- |"]
        out += [f"| {md(s.area)} | {s.label()} |" for s in scores]
    return "\n".join(out) + "\n"


def _gate_lines(gate: Mapping[str, Any], exit_code: Any) -> list[str]:
    if not gate:
        return []
    policy = f"`--fail-on {gate.get('fail_on', 'fail')}`"
    if gate.get("baseline"):
        policy += f", baseline {code(gate['baseline'])}"
    new, known, stale = gate.get("new", []), gate.get("known", []), gate.get("stale", [])
    out = ["", f"**Gate** ({policy}): {len(new)} new, {len(known)} known, {len(stale)} stale."]
    if exit_code == 1 and new:
        out.append("The run failed on the new findings below.")
    for entry in stale:
        shown = ", ".join(f"{k}: {entry[k]}" for k in ("check", "json_path", "kind") if k in entry)
        out.append(f"- stale baseline entry (no longer found; fixed?): {md(shown)}")
    return out


def _escape(text: str, *, prop: bool = False) -> str:
    """A workflow command's data (or property) escaped as GitHub Actions reads it."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _command(level: str, title: str, message: str) -> str:
    """One workflow command; what an endpoint wrote has its control characters shown as
    escapes (``visible``), so a log viewer never obeys them."""
    title, message = visible(title, one_line=True), visible(message, one_line=True)
    return f"::{level} title={_escape(title, prop=True)}::{_escape(message)}"


def workflow_annotations(data: Mapping[str, Any]) -> list[str]:
    """GitHub Actions annotations for a run: errors for what failed the gate, warnings for
    the rest worth a look. At most :data:`ANNOTATIONS` of each (the summary has them all)."""
    gate = data.get("gate") or {}
    new = {key(n) for n in gate.get("new", [])}
    errors: list[str] = []
    warnings: list[str] = []
    noted: set[tuple[str, ...]] = set()
    for check in all_checks(data):
        if check.get("verdict") not in ("FAIL", "WARN"):
            continue
        for finding in check.get("findings", []):
            ident = finding_identity(check, finding)
            if key(ident) in noted:
                continue
            noted.add(key(ident))
            probes = ", ".join(ident["probes"])
            message = f"{finding.get('title', '')} at {ident['json_path']}" + (
                f" (probes: {probes})" if probes else ""
            )
            title = f"conformance {check.get('verdict')}: {ident['check']}"
            if key(ident) in new:
                errors.append(_command("error", title, message))
            else:
                known = " (known: in the baseline)" if gate.get("baseline") else ""
                warnings.append(_command("warning", title, message + known))
    for entry in gate.get("stale", []):
        warnings.append(
            _command(
                "warning",
                f"conformance stale baseline entry: {entry.get('check')}",
                "no longer found: fixed, or the baseline is out of date; remove the entry",
            )
        )
    if data.get("verdict") == "inconclusive":
        notes = "; ".join(str(n) for n in data.get("notes") or []) or "checks were ERROR"
        warnings.insert(0, _command("warning", "conformance inconclusive", notes))
    return errors[:ANNOTATIONS] + warnings[:ANNOTATIONS]
