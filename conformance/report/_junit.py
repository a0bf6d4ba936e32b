"""junit.xml in our words, from results.json data: what CI tools' test reports show.

One ``<testsuite>`` named after the endpoint and model; one ``<testcase>`` per check, its
``classname`` the check's area and its ``name`` the check id. The verdict is carried as
JUnit reads it: FAIL is a ``<failure>``, ERROR (inconclusive) an ``<error>``, never a
failure, SKIP a ``<skipped>`` with its reason; PASS and WARN pass (a WARN lists its
findings in ``<system-out>``; with ``--fail-on warn`` the run's exit code says it failed).
Each case's ``<properties>`` hold its verdict, severity, trials and how many of them
provoked the behaviour; the suite's hold the endpoint, model, profile, verdict, exit code,
trials, whether the run was partial or interrupted, and each client's readiness when the
run measured it. Every text an endpoint could have written is shown with its control
characters escaped (``visible``): XML 1.0 cannot carry most of them, and a terminal that
prints the file must not obey them.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from conformance.report._clients import readiness_of, short
from conformance.run._scores import all_checks
from conformance.wire._visible import visible


def _text(value: Any) -> str:
    return visible(str(value))


def _property(parent: ET.Element, name: str, value: Any) -> None:
    ET.SubElement(parent, "property", name=name, value=_text(value))


def _finding_lines(check: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    lines = []
    explored = {
        (str(f.get("property")), str(f.get("exchange"))): f
        for f in ((data.get("explore") or {}).get("findings") or [])
    }
    for finding in check.get("findings", []):
        probes = ", ".join(str(p) for p in finding.get("probes") or [finding.get("exchange")])
        trials = int(finding.get("trials") or 1)
        rate = f" (in {finding.get('seen', 1)} of {trials} trials)" if trials > 1 else ""
        lines.append(f"x {finding.get('title', '')}{rate}")
        lines.append(f"  at {finding.get('json_path', '$')} (probes: {probes})")
        if finding.get("expected") is not None or finding.get("actual") is not None:
            lines.append(f"  expected: {finding.get('expected')!r}")
            lines.append(f"  actual:   {finding.get('actual')!r}")
        example = explored.get((str(check.get("id")), str(finding.get("exchange"))))
        if example is not None:
            fields = ", ".join(str(f) for f in example.get("fields") or [])
            seed = (data.get("explore") or {}).get("seed")
            lines.append(f"  fields: {fields}; replay: --seed {seed}")
    return lines


def _readiness(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(client, readiness) pairs of the run's client replay (``clients.readiness``):
    ``LIMITED (streaming)`` as the terminal and ``compare`` say it."""
    return [(name, short(entry)) for name, entry in readiness_of(data).items()]


def junit_xml(data: Mapping[str, Any]) -> str:
    """The run as JUnit XML (the common schema Jenkins, GitLab and GitHub reporters read)."""
    checks = all_checks(data)
    endpoint = data.get("endpoint") or {}
    where = "embedded reference server" if endpoint.get("embedded") else endpoint.get("base_url")
    verdicts = [str(c.get("verdict")) for c in checks]
    counts: dict[str, str] = {
        "tests": str(len(checks)),
        "failures": str(verdicts.count("FAIL")),
        "errors": str(verdicts.count("ERROR")),
        "skipped": str(verdicts.count("SKIP")),
        "time": f"{float(data.get('duration_s') or 0):.3f}",
    }
    root = ET.Element("testsuites", {"name": "conformance", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _text(f"{where} ({data.get('model', '')})"),
            "timestamp": str(data.get("started_at", "")),
            "hostname": socket.gethostname(),
            **counts,
        },
    )
    properties = ET.SubElement(suite, "properties")
    network = data.get("network") or {}
    for name, value in (
        ("conformance_endpoint", where),
        ("conformance_model", data.get("model", "")),
        ("conformance_profile", data.get("profile", "")),
        ("conformance_verdict", data.get("verdict", "")),
        ("conformance_exit_code", data.get("exit_code", "")),
        ("conformance_trials", network.get("trials", "")),
    ):
        _property(properties, name, value)
    if data.get("partial"):
        _property(properties, "conformance_partial", "true")
    if network.get("interrupted"):
        _property(properties, "conformance_interrupted", network["interrupted"])
    for client, readiness in _readiness(data):
        _property(properties, f"conformance_client_{client}", readiness)
    for check in checks:
        _case(suite, check, data)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(suite: ET.Element, check: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    verdict = str(check.get("verdict"))
    case = ET.SubElement(
        suite,
        "testcase",
        classname=_text(check.get("area", "")),
        name=_text(check.get("id", "")),
        time=f"{float(check.get('duration_s') or 0):.3f}",
    )
    properties = ET.SubElement(case, "properties")
    _property(properties, "conformance_verdict", verdict)
    _property(properties, "conformance_severity", check.get("severity", ""))
    _property(properties, "conformance_trials", check.get("trials", 1))
    if "provoked" in check:
        _property(properties, "conformance_provoked", check["provoked"])
    reason = _text(check.get("reason") or "")
    title = _text(check.get("title", ""))
    lines = "\n".join(_text(line) for line in _finding_lines(check, data))
    if verdict == "FAIL":
        failure = ET.SubElement(case, "failure", message=title, type="FAIL")
        failure.text = lines + (f"\n{reason}" if reason else "")
    elif verdict == "ERROR":
        error = ET.SubElement(case, "error", message=f"inconclusive: {reason}", type="ERROR")
        error.text = reason
    elif verdict == "SKIP":
        why = "unsupported: " if check.get("unsupported") else ""
        ET.SubElement(case, "skipped", message=f"{why}{reason}", type="SKIP")
    elif verdict == "WARN":
        out = ET.SubElement(case, "system-out")
        out.text = f"WARN (a broken SHOULD): {title}\n{lines}"
