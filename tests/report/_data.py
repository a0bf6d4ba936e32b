"""Small results.json data for unit tests of gating, comparison and rendering."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "schema_version": 1,
    "tool": {"name": "conformance", "version": "0.1.0"},
    "endpoint": {"base_url": "https://api.example.com/v1", "embedded": False},
    "model": "m-1",
    "profile": "strict",
    "spec": {"title": "API", "version": "1", "sha256": "a" * 64},
    "started_at": "2026-01-01T00:00:00+00:00",
    "duration_s": 1.25,
    "partial": False,
    "notes": [],
    "verdict": "nonconformant",
    "exit_code": 1,
    "totals": {"PASS": 0, "FAIL": 0, "WARN": 0, "SKIP": 0, "ERROR": 0},
    "requests": 3,
    "tokens": {"prompt": 1, "completion": 2, "total": 3, "unreported_exchanges": 0},
    "checks": [],
    "exchanges": [],
}


def finding(
    title: str = "x is wrong",
    json_path: str = "$.x",
    exchange: str = "chat",
    expected: Any = 1,
    actual: Any = 2,
    *,
    chunk_index: int | None = None,
) -> dict[str, Any]:
    return {
        "check_id": "",
        "title": title,
        "severity": "MUST",
        "json_path": json_path,
        "schema_path": None,
        "expected": expected,
        "actual": actual,
        "chunk_index": chunk_index,
        "count": 1,
        "exchange": exchange,
    }


def check(
    check_id: str,
    verdict: str = "PASS",
    *,
    area: str = "usage",
    severity: str = "MUST",
    findings: list[dict[str, Any]] | None = None,
    reason: str = "",
    unsupported: bool = False,
) -> dict[str, Any]:
    return {
        "id": check_id,
        "title": f"{check_id} holds",
        "area": area,
        "severity": severity,
        "spec": "#/components/schemas/X",
        "probes": ["chat"],
        "verdict": verdict,
        "reason": reason,
        "unsupported": unsupported,
        "duration_s": 0.0,
        "findings": findings or [],
        "exchanges": ["chat"],
    }


def results(*checks: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["checks"] = list(checks)
    for c in checks:
        data["totals"][c["verdict"]] += 1
    data.update(fields)
    return data
