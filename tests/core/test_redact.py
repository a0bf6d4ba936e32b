"""The redactor keeps API keys out of recorded evidence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance.wire._redact import Redactor

KEY = "sk-test-CANARY-0123456789abcdef"


def test_every_occurrence_in_text_is_replaced():
    redactor = Redactor([KEY])

    assert redactor.text(f"key {KEY} and again {KEY}.") == "key [REDACTED] and again [REDACTED]."


def test_every_occurrence_in_bytes_is_replaced():
    redactor = Redactor([KEY])

    assert redactor.bytes(f'{{"echo":"Bearer {KEY}"}}'.encode()) == (
        b'{"echo":"Bearer [REDACTED]"}'
    )


def test_json_escaped_and_percent_encoded_spellings_are_replaced_too():
    key = 'ab/cd+ef"gh'
    redactor = Redactor([key])

    assert redactor.text('{"k": "ab/cd+ef\\"gh"}') == '{"k": "[REDACTED]"}'
    assert redactor.text("?key=ab%2Fcd%2Bef%22gh") == "?key=[REDACTED]"


def test_none_empty_and_short_secrets_are_ignored():
    redactor = Redactor([None, "", "abc"])

    assert not redactor
    assert redactor.text("abc abc") == "abc abc"
    assert redactor.bytes(b"abc") == b"abc"


def test_a_secret_containing_another_is_replaced_whole():
    redactor = Redactor(["abcd", "xxabcdxx"])

    assert redactor.text("xxabcdxx abcd") == "[REDACTED] [REDACTED]"


def test_credential_headers_keep_only_their_scheme_and_names_are_lower_cased():
    redactor = Redactor([KEY])

    assert redactor.headers(
        {
            "Authorization": f"Bearer {KEY}",
            "Proxy-Authorization": "Basic dXNlcjpwYXNz",
            "X-Api-Key": KEY,
            "api-key": "some other key",
            "X-Echo": f"you sent {KEY}",
            "Content-Type": "application/json",
        }
    ) == {
        "authorization": "Bearer [REDACTED]",
        "proxy-authorization": "Basic [REDACTED]",
        "x-api-key": "[REDACTED]",
        "api-key": "[REDACTED]",
        "x-echo": "you sent [REDACTED]",
        "content-type": "application/json",
    }


def test_an_authorization_value_without_a_scheme_is_redacted_whole():
    assert Redactor([]).headers({"Authorization": "rawtoken"}) == {"authorization": "[REDACTED]"}


def test_json_values_have_every_string_redacted():
    redactor = Redactor([KEY])

    assert redactor.json({"a": [KEY, 1, None, {"b": f"x{KEY}"}], KEY: True}) == {
        "a": ["[REDACTED]", 1, None, {"b": "x[REDACTED]"}],
        "[REDACTED]": True,
    }


def test_a_cut_inside_a_secret_drops_the_partial_secret():
    redactor = Redactor([KEY])
    body = f"start {KEY} middle {KEY} end".encode()
    cut_at = body.rindex(KEY.encode()) + 10  # ten characters into the second key

    assert redactor.cut_bytes(body, cut_at) == b"start [REDACTED] middle "


def test_a_cut_outside_a_secret_keeps_everything_before_it():
    redactor = Redactor([KEY])

    assert redactor.cut_bytes(b"plain text", 5) == b"plain"


@given(
    prefix=st.text(max_size=30),
    suffix=st.text(max_size=30),
    cut=st.integers(0, 120),
)
def test_no_piece_of_four_or_more_key_characters_survives_a_cut(prefix, suffix, cut):
    redactor = Redactor([KEY])
    body = f"{prefix}{KEY}{suffix}".encode()

    out = redactor.cut_bytes(body, cut)

    assert len(out) <= cut  # this key is longer than "[REDACTED]"
    assert KEY.encode() not in out
    assert not any(out.endswith(KEY[:n].encode()) for n in range(4, len(KEY)))


ENCODINGS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


@given(
    st.sampled_from(ENCODINGS),
    st.text(max_size=20),
    st.text(max_size=20),
    st.sampled_from([str.lower, str.upper, lambda s: s]),
    st.booleans(),
)
def test_the_key_in_utf16_or_utf32_is_redacted_in_that_encoding(
    encoding, before, after, case, escape
):
    """A body in UTF-16/32 is never decoded as JSON, but it is kept as evidence: the key in
    it, as written or JSON-escaped, in any case, becomes [REDACTED] in the same encoding."""
    key = case(KEY)
    spelled = "".join(f"\\u{ord(c):04x}" for c in key) if escape else key
    body = (before + spelled + after).encode(encoding, errors="surrogatepass")
    out = Redactor([KEY]).bytes(body)
    text = out.decode(encoding, errors="surrogatepass").lower()
    assert KEY.lower() not in text
    assert "[redacted]" in text
