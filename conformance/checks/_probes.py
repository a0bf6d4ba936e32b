"""The probes: the few cheap requests every check judges.

Each valid probe asks for at most ``MAX_TOKENS`` tokens with a short prompt. Each
``invalid_*`` probe is a valid request with exactly ONE rule of ``ChatCompletionRequest``
broken; which rule is not written down here but read from the contract at judging time
(see ``broken_rule`` in ``_helpers``), so a different document judges the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.checks._registry import Probe, probe

PROMPT = "Reply with the single word: ok"
MAX_TOKENS = 8  # every probe stays under 16 tokens of output

Body = Callable[[str], dict[str, Any]]


def _chat(model: str, **extra: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": MAX_TOKENS,
    }
    body.update(extra)
    return body


def _plain(model: str) -> dict[str, Any]:
    return _chat(model)


def _stream(model: str) -> dict[str, Any]:
    return _chat(model, stream=True)


def _stream_usage(model: str) -> dict[str, Any]:
    return _chat(model, stream=True, stream_options={"include_usage": True})


def _temperature_5(model: str) -> dict[str, Any]:
    return _chat(model, temperature=5)


def _n_zero(model: str) -> dict[str, Any]:
    return _chat(model, n=0)


def _empty_messages(model: str) -> dict[str, Any]:
    return _chat(model, messages=[])


def _wizard_role(model: str) -> dict[str, Any]:
    return _chat(model, messages=[{"role": "wizard", "content": PROMPT}])


def _missing_model(model: str) -> dict[str, Any]:
    body = _chat(model)
    del body["model"]
    return body


def _messages_string(model: str) -> dict[str, Any]:
    return _chat(model, messages=PROMPT)


CHAT = probe(Probe("chat", "a one-message chat, not streamed", _plain))
CHAT_STREAM = probe(Probe("chat_stream", "the same chat with stream: true", _stream))
CHAT_STREAM_USAGE = probe(
    Probe(
        "chat_stream_usage",
        'the same chat streamed with stream_options: {"include_usage": true}',
        _stream_usage,
    )
)
NO_KEY = probe(
    Probe(
        "no_key",
        "the plain chat sent without an Authorization header",
        _plain,
        auth="none",
        needs_key=True,
    )
)
WRONG_KEY = probe(
    Probe(
        "wrong_key",
        "the plain chat sent with a made-up bearer key",
        _plain,
        auth="invalid",
        needs_key=True,
    )
)

INVALID_PROBES: tuple[Probe, ...] = tuple(
    probe(Probe(probe_id, description, body))
    for probe_id, description, body in (
        ("invalid_temperature", "the plain chat with temperature 5 (above 2)", _temperature_5),
        ("invalid_n_zero", "the plain chat asking for n: 0 choices", _n_zero),
        ("invalid_empty_messages", "a chat with an empty messages list", _empty_messages),
        ("invalid_role", 'a chat whose message has role "wizard"', _wizard_role),
        ("invalid_missing_model", "the plain chat without the model field", _missing_model),
        ("invalid_messages_type", "a chat whose messages is a string", _messages_string),
    )
)
INVALID = tuple(p.id for p in INVALID_PROBES)
STREAMS = (CHAT_STREAM.id, CHAT_STREAM_USAGE.id)
