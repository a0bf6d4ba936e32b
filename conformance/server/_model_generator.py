"""The model-like mode's generator: a small sampling model that ignores what it is told.

It writes random word pieces (sub-words, common letters, spaces, punctuation, a few
multi-byte characters, now and then a word of the user's message), ends at random
(``finish_reason: stop``) or at the token cap (``length``), honours ``stop`` (the answer
ends just before the first stop text it wrote), draws ``n`` independent choices, calls a
random declared tool under ``tool_choice: auto`` (or writes text), always under
``required`` (two at times; mostly two when ``parallel_tool_calls`` is true), the named
one when named and never under ``none``; tool arguments and ``response_format`` answers
are grammar-constrained JSON (``_json_grammar``) written piece by piece, so a cap can cut
them. Its logprobs come from a distribution drawn at each position, of which the written
token is a sample.

A request with its own ``seed`` is answered the same way whenever it is asked (``stream``,
``stop``, the caps and the other shaping fields aside: a stop cuts the answer the request
gets without it), as vLLM's per-request seed does. Otherwise randomness comes from one
``random.Random`` per request (``ModelSampler.rng``): fresh for
every request when the server has no seed; with a seed, derived from the seed, the request
and how many times that request was asked before, so a seeded server answers the same
sequence of requests the same way (concurrent different requests do not disturb each
other). The answer takes the toy model's shapes (``Choice``, ``Completion``), so rendering
and every defect apply unchanged.
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from conformance.server._generator import Choice, Completion, Params, Tool, ToolCall
from conformance.server._json_grammar import dumps, json_object, schema_instance

MAX_ANSWER_TOKENS = 400  # the model's own ceiling when no cap is asked for (finish "length")
END_CHANCE = 0.05  # the chance, after each token, that the model ends its answer (mean ~20)
ECHO_CHANCE = 0.1  # the chance that a piece is a word of the user's last message, as a model
# conditioned on its prompt repeats some of it (never the instruction as a whole)
TOOL_CHANCE = 0.5  # under tool_choice "auto": the chance of calling a tool, not writing text
PARALLEL_CHANCE = 0.25  # with several tools declared: the chance of calling two at once
PARALLEL_ASKED_CHANCE = 0.9  # with parallel_tool_calls: true, as models asked for two calls
REASONING_PIECES = {"low": (1, 4), "medium": (3, 10), "high": (6, 20)}
ALTERNATIVES = 24  # candidates of each position's distribution (top_logprobs allows 20)

# (piece, weight): what the model writes. Leading spaces make words; the rest glue on.
_PIECES: tuple[tuple[str, int], ...] = (
    *((w, 6) for w in (" the", " a", " of", " and", " to", " in", " is", " it", " that")),
    *((w, 3) for w in (" river", " stone", " light", " model", " time", " one", " two")),
    *((w, 3) for w in (" three", " water", " north", " quiet", " small", " over", " with")),
    *((w, 2) for w in (" we", " you", " not", " be", " on", " as", " for", " this")),
    *((w, 3) for w in ("ing", "ed", "er", "s", "ly", "tion", "re", "un", "est", "al")),
    *((w, 2) for w in ("e", "t", "a", "o", "n", "i", " ")),
    *((w, 3) for w in (",", ".")),
    *((w, 1) for w in ("!", "?", ";", ":", " -", "'s", "\n", "\n\n", '"', "(", ")")),
    *((w, 1) for w in (" café", "é", " naïve", "ü", "ñ", " —", "…", " 1", "2", "0", " 42")),
)  # fmt: skip
_WORDS = tuple(p for p, _ in _PIECES)
_WEIGHTS = tuple(w for _, w in _PIECES)


class ModelSampler:
    """Draws each request's randomness; seeded, it counts the requests it has seen."""

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self.asked: Counter[bytes] = Counter()

    def rng(self, params: Params) -> random.Random:
        if params.seeded:  # the request's own seed: its answer depends on nothing else
            digest = hashlib.sha256(b"request seed\0" + params.key).digest()
            # a simulated model's sampling, not a secret (S311)
            return random.Random(int.from_bytes(digest[:16], "big"))  # noqa: S311
        if self.seed is None:
            return random.Random(secrets.randbits(128))  # noqa: S311 - a model, not crypto
        request = hashlib.sha256(params.key).digest()  # kept per request: small, whatever it is
        nth = self.asked[request]
        self.asked[request] += 1
        digest = hashlib.sha256(b"%d\0%s\0%d" % (self.seed, request, nth)).digest()
        return random.Random(int.from_bytes(digest[:16], "big"))  # noqa: S311


def sample(params: Params, rng: random.Random) -> Completion:
    """``n`` independent choices for ``params``, each from its own stream of randomness."""
    seeds = [rng.getrandbits(64) for _ in range(params.n)]
    choices = tuple(_choice(params, i, random.Random(s)) for i, s in enumerate(seeds))  # noqa: S311
    return Completion(choices=choices, prompt_tokens=params.prompt_tokens)


def _choice(params: Params, index: int, rng: random.Random) -> Choice:
    text_rng, logprob_rng = random.Random(rng.getrandbits(64)), random.Random(rng.getrandbits(64))  # noqa: S311
    cap = MAX_ANSWER_TOKENS if params.limit is None else params.limit
    reasoning = _reasoning(params, rng, cap)
    cap -= len(reasoning)
    tools = _tools_to_call(params, rng)
    if tools and cap > 0:
        return _calls(index, tools, rng, cap, logprobs=params.logprobs, reasoning=reasoning)
    tokens, finish = write(_source(params, text_rng), params.stop, cap)
    logprobs = None
    if params.logprobs:
        logprobs = tuple(logprob_entry(t, logprob_rng, params.top_logprobs) for t in tokens)
    return Choice(index, tuple(tokens), (), finish, logprobs, reasoning)


def write(source: Iterator[str | None], stops: Sequence[str], cap: int) -> tuple[list[str], str]:
    """Take pieces from ``source`` (``None`` ends the answer) until the end, ``cap`` pieces
    (``length``, even when the end would have come next) or a stop text written; the answer
    then ends just before the first stop text, which is never part of it (the piece it
    starts inside is cut there)."""
    tokens: list[str] = []
    text = ""
    for piece in source:
        if len(tokens) >= cap:  # the end-of-text token would be one more: never written
            return tokens, "length"
        if piece is None:
            return tokens, "stop"
        tokens.append(piece)
        text += piece
        starts = [text.find(s) for s in stops if s and s in text]
        if starts:
            return cut_at(tokens, min(starts)), "stop"
    return tokens, "stop"


def cut_at(tokens: Sequence[str], end: int) -> list[str]:
    """The tokens that hold the first ``end`` characters of their text (the last one cut)."""
    kept: list[str] = []
    at = 0
    for token in tokens:
        if at + len(token) <= end:
            kept.append(token)
            at += len(token)
            continue
        if end > at:
            kept.append(token[: end - at])
        break
    return kept


def cut_logprobs(choice: Choice, tokens: Sequence[str]) -> tuple[dict[str, Any], ...] | None:
    """``choice``'s logprobs for a prefix ``tokens`` of its tokens (the last one maybe cut)."""
    if choice.logprobs is None:
        return None
    out = [dict(entry) for entry in choice.logprobs[: len(tokens)]]
    if out and out[-1]["token"] != tokens[-1]:
        out[-1].update(token=tokens[-1], bytes=list(tokens[-1].encode("utf-8")))
    return tuple(out)


def recut(choice: Choice, end: int, finish: str) -> Choice:
    """``choice`` with its content cut after ``end`` characters, finishing with ``finish``."""
    tokens = cut_at(choice.tokens, end)
    return replace(
        choice, tokens=tuple(tokens), finish_reason=finish, logprobs=cut_logprobs(choice, tokens)
    )


def _source(params: Params, rng: random.Random) -> Iterator[str | None]:
    if params.response_format == "json_schema" and params.json_schema is not None:
        yield from _json_pieces(dumps(schema_instance(params.json_schema, rng), rng), rng)
    elif params.response_format in ("json_object", "json_schema"):
        yield from _json_pieces(dumps(json_object(rng), rng), rng)
    else:
        echoes = tuple(" " + word for word in params.last_user_text.split()[:64])
        yield from _text_pieces(rng, echoes)
    yield None


def _text_pieces(rng: random.Random, echoes: tuple[str, ...]) -> Iterator[str]:
    first = True
    while True:
        if echoes and rng.random() < ECHO_CHANCE:
            piece = rng.choice(echoes)
        else:
            piece = rng.choices(_WORDS, _WEIGHTS)[0]
        if first and not piece.lstrip()[:1].isalpha():
            piece = rng.choice(("The", "A", "It", "We", "In"))
        elif first:
            piece = piece.lstrip()
        first = False
        yield piece
        if rng.random() < END_CHANCE:
            return


def _json_pieces(text: str, rng: random.Random) -> Iterator[str]:
    """JSON text in pieces of one to four characters, as a tokenizer might split it."""
    at = 0
    while at < len(text):
        size = rng.randint(1, 4)
        yield text[at : at + size]
        at += size


def _reasoning(params: Params, rng: random.Random, cap: int) -> tuple[str, ...]:
    if params.reasoning_effort is None:
        return ()
    low, high = REASONING_PIECES[params.reasoning_effort]
    pieces = [rng.choices(_WORDS, _WEIGHTS)[0] for _ in range(rng.randint(low, high))]
    pieces = ["Hmm,", *pieces]  # as thinking starts: never how an answer does
    return tuple(pieces[:cap])


def _tools_to_call(params: Params, rng: random.Random) -> list[Tool]:
    """None, the named one, or one random declared tool (two at times, when several are
    declared and parallel calls are not refused)."""
    if not params.tools or params.tool_choice == "none":
        return []
    if params.tool_choice == "function":
        return [next(t for t in params.tools if t.name == params.forced_tool)]
    if params.tool_choice == "auto" and rng.random() >= TOOL_CHANCE:
        return []
    if params.parallel_asked:  # asked for parallel calls (one tool declared suffices)
        several = rng.random() < PARALLEL_ASKED_CHANCE
    else:
        several = params.parallel_calls and len(params.tools) > 1 and rng.random() < PARALLEL_CHANCE
    return [rng.choice(params.tools) for _ in range(2 if several else 1)]


def _calls(
    index: int,
    tools: list[Tool],
    rng: random.Random,
    cap: int,
    *,
    logprobs: bool,
    reasoning: tuple[str, ...],
) -> Choice:
    """Calls of ``tools`` with arguments drawn from their parameters, cut by ``cap`` tokens
    (a name takes one, the arguments a piece each): a call the cap cuts is the last, and an
    answer that reaches the cap ends with ``length`` (as text does: see ``write``)."""
    calls: list[ToolCall] = []
    used = 0
    for tool in tools:
        if used >= cap:
            break
        arguments = dumps(schema_instance(tool.parameters, rng) if tool.parameters else {}, rng)
        pieces = list(_json_pieces(arguments, rng))[: cap - used - 1]
        used += 1 + len(pieces)
        call_id = f"call_{rng.getrandbits(96):024x}"
        calls.append(
            ToolCall(id=call_id, name=tool.name, arguments="".join(pieces), pieces=tuple(pieces))
        )
    finish = "length" if used >= cap else "tool_calls"
    return Choice(
        index, (), tuple(calls), finish, () if logprobs else None, reasoning, call_tokens=used
    )


def logprob_entry(token: str, rng: random.Random, top: int) -> dict[str, Any]:
    """A distribution over ``token`` and other pieces at one position: the token's logprob
    and the ``top`` most likely candidates, most likely first (the token among them when
    it ranks there)."""
    others = rng.sample([w for w in _WORDS if w != token], ALTERNATIVES - 1)
    logits = [rng.gauss(2.0, 1.0), *(rng.gauss(0.0, 1.2) for _ in others)]
    rest = rng.gauss(1.0, 0.5)  # the mass of every piece not listed
    peak = max(*logits, rest)
    norm = peak + math.log(sum(math.exp(v - peak) for v in [*logits, rest]))
    ranked = sorted(
        ((min(0.0, round(v - norm, 6)), t) for v, t in zip(logits, [token, *others], strict=True)),
        key=lambda pair: -pair[0],
    )
    chosen = ranked[[t for _, t in ranked].index(token)][0]
    return {**_entry(token, chosen), "top_logprobs": [_entry(t, v) for v, t in ranked[:top]]}


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}
