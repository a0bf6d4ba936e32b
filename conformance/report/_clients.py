"""Client readiness from ``results.json`` data (``clients.readiness``), for every renderer:
the report's card, the terminal, JUnit properties, ``compare`` and ``matrix``. Rendering only:
the verdicts are the client replay's (``clients._impact.readiness``)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from conformance.clients._impact import readiness_line
from conformance.report._html_evidence import anchor

TONE = {"READY": "PASS", "LIMITED": "WARN", "NOT READY": "FAIL", "SKIP": "SKIP", "ERROR": "ERROR"}


def readiness_of(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Client name -> its readiness entry (empty when the replay did not run)."""
    clients = data.get("clients")
    found = clients.get("readiness") if isinstance(clients, Mapping) else None
    return {str(k): dict(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


def readiness_lines(data: Mapping[str, Any]) -> list[str]:
    """``openai-python 3.63.0: LIMITED (streaming)``, one per client."""
    return [readiness_line(name, entry) for name, entry in readiness_of(data).items()]


def short(entry: Mapping[str, Any]) -> str:
    """``LIMITED (streaming)``: a cell of ``compare``."""
    features = entry.get("features") or []
    return f"{entry.get('status')}" + (f" ({', '.join(features)})" if features else "")


def readiness_html(data: Mapping[str, Any]) -> str:
    """The card's line per client, each with its evidence (the exchanges that broke it)."""
    items = []
    for name, entry in readiness_of(data).items():
        tone = TONE.get(str(entry.get("status")), "ERROR")
        evidence = entry.get("evidence") or []
        links = ", ".join(
            f'<a href="#{anchor("check", "client_reads_exchange")}" '
            f'title="{escape(str(e.get("what", "")))}"><code>{escape(str(e.get("exchange")))}'
            f"</code> ({escape(str(e.get('mode')))})</a>"
            for e in evidence[:6]
        )
        more = f" and {len(evidence) - 6} more" if len(evidence) > 6 else ""
        items.append(
            f'<li class="cf-client"><span class="cf-verdict-{tone}">'
            f"{escape(readiness_line(name, entry))}</span>"
            + (f"; broken by {links}{more}" if links else "")
            + (f" ({escape(str(entry['reason']))})" if entry.get("status") == "READY" else "")
            + "</li>"
        )
    return f'<ul id="cf-clients">{"".join(items)}</ul>' if items else ""


def junit_properties(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``conformance_client_openai-python`` = ``LIMITED (streaming)``, one per client."""
    return [(f"conformance_client_{name}", short(e)) for name, e in readiness_of(data).items()]
