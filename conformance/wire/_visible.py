"""Text an endpoint controls, made safe to show: one function per kind of output.

An endpoint writes error messages, content, header values and model names that end up on the
user's terminal, in ``-v`` lines, JUnit files and the Markdown of ``conformance compare``. A
control character there is an instruction to the terminal (``ESC[2J`` clears the screen,
``ESC]0;...BEL`` sets the window title, ``CR`` overwrites what was printed) or hides text
(bidi overrides). ``visible`` shows each as an escape (``\\x1b``, ``\\u202e``) instead;
``markdown_text`` also escapes what Markdown or HTML would interpret, for documents meant for
an issue or a pull request. Secrets are redacted where exchanges are recorded
(``_redact``), before any of this runs.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls (8-bit CSI is \x9b), zero-width and
# bidi formatting characters, and the BOM.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_CONTROL_OR_NEWLINE = re.compile(f"[\n\t{_CONTROL.pattern[1:-1]}]")
# ASCII punctuation that Markdown (CommonMark, GitHub's extensions) or HTML may read as syntax:
# emphasis, code, links and images, headings, tables, raw HTML, entities, mentions, autolinks.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~&@!])")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``); tabs and
    newlines kept, unless ``one_line`` (then they are escaped too)."""
    return (_CONTROL_OR_NEWLINE if one_line else _CONTROL).sub(_escape, text)


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown on one line: controls shown as escapes, and every
    character Markdown or HTML could read as syntax backslash-escaped (CommonMark renders
    ``\\<`` as ``<``), so an endpoint's words cannot become a link, a mention, a table
    cell break or HTML."""
    return _MARKDOWN.sub(r"\\\1", visible(text, one_line=True))
