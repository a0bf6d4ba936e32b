"""What an endpoint sends is shown with its control characters visible, never obeyed."""

from __future__ import annotations

import pytest

from conformance.wire._visible import markdown_text, visible


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),  # clear screen
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # set the window title
        ("ok\rFAKE", "ok\\x0dFAKE"),  # overwrite the line
        ("\x9b31m", "\\x9b31m"),  # 8-bit CSI
        ("\x7f\x00", "\\x7f\\x00"),
        ("abc\u202edef", "abc\\u202edef"),  # bidi override
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("two\nlines\tand a tab", "two\nlines\tand a tab"),
        ("é ü 你好 🙂", "é ü 你好 🙂"),  # printable text is left alone
    ],
)
def test_control_characters_are_shown_as_escapes(sent, shown):
    assert visible(sent) == shown


def test_one_line_escapes_newlines_and_tabs_too():
    assert visible("a\nb\tc\r", one_line=True) == "a\\x0ab\\x09c\\x0d"


def test_markdown_text_is_literal_on_one_line():
    assert markdown_text("<b>x</b> | @team [a](b) `c` *d* _e_ ~f~ &amp;\n!g\x1b") == (
        "\\<b\\>x\\</b\\> \\| \\@team \\[a\\](b) \\`c\\` \\*d\\* \\_e\\_ \\~f\\~ \\&amp;"
        "\\\\x0a\\!g\\\\x1b"
    )
