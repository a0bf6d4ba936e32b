"""How to fix a check's failure: its ``@check(fix=...)`` text and its section of docs/checks.md.

One place for the hint (beside the check's registration) and its anchor; the terminal,
report.html and the catalogue doc read them from here.
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "checks.md"
DOCS_URL = "docs/checks.md"  # in the source tree, where this catalogue is committed


def anchor_of(check_id: str) -> str:
    """The anchor of a check's section in docs/checks.md."""
    return f"check-{check_id}"


def docs_link(check_id: str) -> str:
    """A link to the check's section of docs/checks.md: the file in this checkout when
    there is one (a report is opened on the machine that ran it), else the tree's path."""
    base = DOCS.as_uri() if DOCS.is_file() else DOCS_URL
    return f"{base}#{anchor_of(check_id)}"


def fix_hint(check_id: str) -> str:
    """The check's ``fix`` (what a conforming answer looks like, the usual cause), or ""."""
    from conformance.checks import get_check

    try:
        return get_check(check_id).fix
    except KeyError:
        return ""
