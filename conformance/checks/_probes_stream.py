"""Probes of what a stream says (issue 19): a stop text of several tokens, streamed, taken
from the endpoint's own answer; and text with accents, CJK and emoji, streamed.

The stop probe's twin asks the prose question without stop, with ``seed`` and
``temperature: 0`` (an endpoint that honours them answers the streamed request the same
way up to the stop); the stop text is two words of that answer, so whatever the model
writes, the stream is asked to stop inside its own text. The non-ASCII probe dictates
words a client must get back whole: a model that obeys writes them, a sampling model that
does not may still echo some (the check is judged only when the answer holds such text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from conformance.checks._probes_again import ask_again
from conformance.checks._probes_sampling import PROSE, SEED, STOP_TOKENS, chat_body
from conformance.checks._registry import Probe, probe
from conformance.wire._exchange import Exchange

WORDS = re.compile(r"\s*\S+")
UNICODE_WORDS = "café 東京 🌊 東京 🌊"
UNICODE_PROMPT = f"Reply with exactly these words: {UNICODE_WORDS}"
# Room for most of the words (CJK and emoji take several tokens each). A model that does
# not obey may still echo some: the long words come twice, and an answer without one of
# them is asked for again (once per trial).
UNICODE_TOKENS = 20
LONG = 3  # UTF-8 bytes: CJK and emoji (not accents) are what tokenizers split


def _free(model: str) -> dict[str, Any]:
    return chat_body(model, PROSE, STOP_TOKENS, seed=SEED, temperature=0)


def stop_text(answer: str) -> str | None:
    """The stop text taken from an answer: its second and third words with the space
    before them (several tokens in any tokenizer; the second alone when there are only
    two), or None when it has a single word: the stop must come after some text."""
    words = WORDS.findall(answer)
    return "".join(words[1:3]) if len(words) >= 2 else None


def answer_text(exchange: Exchange) -> str | None:
    """The first choice's content of a non-streamed 2xx answer, or None."""
    if not exchange.ok or exchange.streamed:
        return None
    try:
        payload = exchange.json()
    except ValueError:
        return None
    choices = payload.get("choices") if isinstance(payload, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else None


STOP_SEEDED = probe(
    Probe(
        "stop_seeded",
        f"the sentence of the stop probes without stop, with seed: {SEED} and temperature: 0 "
        "(the answer the streamed stop probe takes its stop text from)",
        _free,
    )
)


def _stop_stream(model: str, peers: Mapping[str, Exchange]) -> dict[str, Any] | None:
    twin = peers.get(STOP_SEEDED.id)
    text = answer_text(twin) if twin is not None else None
    stop = stop_text(text) if text is not None else None
    if stop is None:
        return None  # no answer of three words: nothing to stop inside
    return {**_free(model), "stop": [stop], "stream": True}


STOP_STREAM = probe(
    Probe(
        "stop_stream",
        "the same request streamed, with stop: the second and third words of its answer "
        "without stop",
        lambda model: {**_free(model), "stop": [" of the"], "stream": True},
        after=(STOP_SEEDED.id,),
        build=_stop_stream,
    )
)
UNICODE_STREAM = probe(
    Probe(
        "unicode_stream",
        f"a streamed chat asking for {UNICODE_WORDS!r} (accents, CJK, emoji)",
        lambda model: chat_body(model, UNICODE_PROMPT, UNICODE_TOKENS, stream=True),
        sampled=True,
    )
)


def _no_long_character(exchange: Exchange) -> bool:
    text = "".join(d.get("content") or "" for d in _deltas(exchange))
    return not any(len(c.encode("utf-8", "surrogatepass")) >= LONG for c in text)


def _deltas(exchange: Exchange) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _, payload, _ in exchange.event_payloads():
        choices = payload.get("choices") if isinstance(payload, dict) else None
        for choice in choices if isinstance(choices, list) else []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                out.append(delta)
    return out


[UNICODE_STREAM_AGAIN] = ask_again(
    UNICODE_STREAM, times=1, unprovoked=_no_long_character, why="it holds no CJK or emoji"
)
