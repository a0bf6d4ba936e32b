"""The reference server's toy model: deterministic words, tool calls and JSON answers.

One token is one word (with the whitespace before it); a user asking "Reply with exactly
these words: ..." gets those words, any other text prompt random ones. The same request
with the same seed gives the same answer, whether streamed or not; ``max_tokens`` and
``stop`` cut the answer the request would get without them, so a limited answer is a prefix
of the full one.
Prompt tokens are counted the same way: the whitespace-separated words of every message's
text (string content and text parts).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.server._instance import minimal_instance, word_source

# A fixed vocabulary: ASCII and a few multi-byte words, so `bytes` in logprobs means something.
VOCABULARY = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi",
    "chi", "psi", "omega", "river", "stone", "cloud", "ember", "harbor", "lantern", "meadow",
    "orbit", "quartz", "signal", "thistle", "willow", "café", "naïve", "über", "jalapeño",
)  # fmt: skip
MAX_TOP_LOGPROBS = 20  # as OpenAI: more is a 400
NATURAL_LENGTH = (3, 20)  # words in an answer that nothing cuts short
DICTATION = "Reply with exactly these words:"  # a text prompt the toy model repeats
REASONING_WORDS = {"low": 2, "medium": 4, "high": 8}  # after "Thinking:", by reasoning_effort

# Request fields that shape how an answer is cut or delivered, not what it is: they are left
# out of the seed so that, e.g., a streamed answer equals the non-streamed one.
_SHAPING_FIELDS = frozenset({
    "stream", "stream_options", "max_tokens", "max_completion_tokens", "stop", "n",
    "logprobs", "top_logprobs", "user", "store", "service_tier",
})  # fmt: skip
_TOKEN = re.compile(r"\s*\S+")


class RequestProblem(Exception):
    """A schema-valid request the server cannot serve (a 400, as OpenAI answers it)."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class Tool:
    name: str
    parameters: Mapping[str, Any] | None


@dataclass(frozen=True)
class Params:
    """What the toy model reads from a request. Fields of the wrong type take their default."""

    key: bytes  # what the answer depends on: the request without its shaping fields
    prompt_tokens: int
    n: int
    limit: int | None  # the smaller of max_tokens and max_completion_tokens
    stop: tuple[str, ...]
    logprobs: bool
    top_logprobs: int
    tools: tuple[Tool, ...]
    tool_choice: str  # "none", "auto", "required" or "function"
    forced_tool: str | None  # the name when tool_choice names a function
    last_user_text: str
    response_format: str  # "text", "json_object" or "json_schema"
    json_schema: Mapping[str, Any] | None
    reasoning_effort: str | None = None  # "low", "medium" or "high": think that many words
    seeded: bool = False  # the request has an integer ``seed``: the model-like mode answers
    # the same request (its shaping fields aside) the same way, as vLLM does
    parallel_calls: bool = True  # parallel_tool_calls (OpenAI's) is not false: the model-like
    # mode may call several tools at once (the toy calls one)
    parallel_asked: bool = False  # parallel_tool_calls is true: the toy calls its tool twice,
    # the model-like mode calls two tools most of the time


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # a JSON text
    pieces: tuple[str, ...] = ()  # where a stream splits the arguments (empty: fixed splits)


@dataclass(frozen=True)
class Choice:
    index: int
    tokens: tuple[str, ...]  # the content, token by token ("" joined)
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str
    logprobs: tuple[dict[str, Any], ...] | None  # one entry per token, when asked for
    reasoning: tuple[str, ...] = ()  # reasoning tokens, sent apart from the content
    call_tokens: int | None = None  # tokens the tool calls took (None: one per call)

    @property
    def content(self) -> str | None:
        return None if self.tool_calls else "".join(self.tokens)

    @property
    def completion_tokens(self) -> int:
        # a tool call counts as one token (the toy model); reasoning tokens count too
        calls = len(self.tool_calls) if self.call_tokens is None else self.call_tokens
        return len(self.tokens) + calls + len(self.reasoning)


@dataclass(frozen=True)
class Completion:
    choices: tuple[Choice, ...]
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        return sum(choice.completion_tokens for choice in self.choices)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def read_params(body: object, *, seed: int) -> Params:
    """The toy model's view of ``body``; raises ``RequestProblem`` for what OpenAI answers 400."""
    request: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    tools = _tools(request.get("tools"))
    choice, forced = _tool_choice(request.get("tool_choice"), tools)
    logprobs = request.get("logprobs") is True
    top = _int_or_none(request.get("top_logprobs"))
    if top is not None and top > MAX_TOP_LOGPROBS:
        raise RequestProblem(
            f"Invalid 'top_logprobs': integer above maximum value. Expected a value <= "
            f"{MAX_TOP_LOGPROBS}, but got {top} instead.",
            "top_logprobs",
        )
    if top is not None and not logprobs:
        raise RequestProblem(
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
            "'top_logprobs' is used.",
            "top_logprobs",
        )
    limits = [
        v
        for v in map(
            _int_or_none, (request.get("max_tokens"), request.get("max_completion_tokens"))
        )
        if v is not None and v >= 0
    ]
    stop = request.get("stop")
    stops: tuple[str, ...] = (stop,) if isinstance(stop, str) else ()  # openai, or a defect
    if isinstance(stop, list):
        stops = tuple(s for s in stop if isinstance(s, str))
    n = _int_or_none(request.get("n"))
    response_format = request.get("response_format")
    effort = request.get("reasoning_effort")
    kind, schema = _response_format(response_format)
    shaped = {k: v for k, v in request.items() if k not in _SHAPING_FIELDS}
    key = json.dumps({"seed": seed, "request": shaped}, sort_keys=True, default=repr)
    messages = request.get("messages")
    messages = [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []
    return Params(
        key=key.encode(),
        prompt_tokens=sum(len(_text(m).split()) for m in messages),
        n=n if n is not None and 1 <= n <= 128 else 1,
        limit=min(limits) if limits else None,
        stop=stops,
        logprobs=logprobs,
        top_logprobs=top or 0,
        tools=tools,
        tool_choice=choice,
        forced_tool=forced,
        last_user_text=next((_text(m) for m in reversed(messages) if m.get("role") == "user"), ""),
        response_format=kind,
        json_schema=schema,
        reasoning_effort=effort if isinstance(effort, str) and effort in REASONING_WORDS else None,
        parallel_calls=request.get("parallel_tool_calls") is not False,
        seeded=_int_or_none(request.get("seed")) is not None,
        parallel_asked=request.get("parallel_tool_calls") is True,
    )


def generate(params: Params) -> Completion:
    """The answer to ``params``: ``n`` choices, cut by ``stop`` and the token limit."""
    choices: list[Choice] = []
    seen: set[str] = set()
    for index in range(params.n):
        choice = _choice(params, index, 0)
        for attempt in range(1, 8):  # another draw when a choice repeats an earlier one
            if "".join(choice.tokens) not in seen or choice.tool_calls:
                break
            choice = _choice(params, index, attempt)
        seen.add("".join(choice.tokens))
        choices.append(choice)
    return Completion(choices=tuple(choices), prompt_tokens=params.prompt_tokens)


def _choice(params: Params, index: int, attempt: int) -> Choice:
    rng = _rng(params.key, f"choice {index} {attempt}")
    tool = _tool_to_call(params, rng)
    if tool is not None and params.limit != 0:
        calls = tuple(_call(tool, rng) for _ in range(2 if params.parallel_asked else 1))
        return Choice(index, (), calls, "tool_calls", () if params.logprobs else None)
    reasoning = _reasoning(params, _rng(params.key, f"reasoning {index} {attempt}"))
    limit = None if params.limit is None else params.limit - len(reasoning)  # shared budget
    tokens, finish = cut(_TOKEN.findall(_natural_text(params, rng)), params.stop, limit)
    logprobs: tuple[dict[str, Any], ...] | None = None
    if params.logprobs:
        lp_rng = _rng(params.key, f"logprobs {index} {attempt}")
        logprobs = tuple(_logprob(token, lp_rng, params.top_logprobs) for token in tokens)
    return Choice(index, tuple(tokens), (), finish, logprobs, reasoning)


def _call(tool: Tool, rng: random.Random) -> ToolCall:
    words = word_source(VOCABULARY, rng.randrange(len(VOCABULARY)))
    arguments = minimal_instance(tool.parameters, words=words) if tool.parameters else {}
    return ToolCall(
        id=f"call_{rng.getrandbits(96):024x}",
        name=tool.name,
        arguments=json.dumps(arguments, ensure_ascii=False),
    )


def _reasoning(params: Params, rng: random.Random) -> tuple[str, ...]:
    """A few words of "thinking" when reasoning_effort asks for it, cut by the token limit."""
    if params.reasoning_effort is None:
        return ()
    words = [rng.choice(VOCABULARY) for _ in range(REASONING_WORDS[params.reasoning_effort])]
    tokens = _TOKEN.findall("Thinking: " + " ".join(words))
    return tuple(tokens if params.limit is None else tokens[: params.limit])


def cut(tokens: Sequence[str], stops: Sequence[str], limit: int | None) -> tuple[list[str], str]:
    """Stop at whichever comes first: a stop text completed, or the token limit reached.

    A stop text ends the answer just before it (a token it starts inside is cut, and dropped
    if nothing but whitespace is left); the limit ends it with ``finish_reason: length``.
    """
    text = "".join(tokens)
    found = min(
        ((text.find(s) + len(s), text.find(s)) for s in stops if s and s in text), default=None
    )
    if found is not None:
        end, start = found
        ends = [0]
        for token in tokens:
            ends.append(ends[-1] + len(token))
        needed = next(i for i in range(1, len(ends)) if ends[i] >= end)  # tokens to see it
        if limit is None or limit >= needed:
            kept: list[str] = []
            for token, begin in zip(tokens, ends, strict=False):
                if begin + len(token) <= start:
                    kept.append(token)
                    continue
                if token[: start - begin].strip():
                    kept.append(token[: start - begin])
                break
            return kept, "stop"
    if limit is not None and limit < len(tokens):
        return list(tokens[:limit]), "length"
    return list(tokens), "stop"


def _natural_text(params: Params, rng: random.Random) -> str:
    if params.response_format == "json_schema" and params.json_schema is not None:
        words = word_source(VOCABULARY, rng.randrange(len(VOCABULARY)))
        return json.dumps(minimal_instance(params.json_schema, words=words), ensure_ascii=False)
    if params.response_format in ("json_object", "json_schema"):
        answer = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(2, 8)))
        return json.dumps({"answer": answer}, ensure_ascii=False)
    dictated = params.last_user_text.strip()
    if dictated.startswith(DICTATION) and dictated[len(DICTATION) :].strip():
        return dictated[len(DICTATION) :].strip()  # does as told, so `stop` can be seen to cut
    return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(*NATURAL_LENGTH)))


def _logprob(token: str, rng: random.Random, top: int) -> dict[str, Any]:
    """A log probability for ``token`` and ``top`` alternatives, most likely (the token) first."""
    chosen = -round(rng.uniform(0.0, 2.5), 6)
    lead = token[: len(token) - len(token.lstrip())]
    others = [w for w in VOCABULARY if lead + w != token]
    alternatives: list[dict[str, Any]] = []
    logprob = chosen
    for word in rng.sample(others, max(0, top - 1)):
        logprob = round(logprob - rng.uniform(0.05, 1.5), 6)
        alternatives.append(_entry(lead + word, logprob))
    top_list = [_entry(token, chosen), *alternatives][:top]
    return {**_entry(token, chosen), "top_logprobs": top_list}


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def _tool_to_call(params: Params, rng: random.Random) -> Tool | None:
    if not params.tools or params.tool_choice == "none":
        return None
    if params.tool_choice == "function":
        return next(t for t in params.tools if t.name == params.forced_tool)
    if params.tool_choice == "required":
        return params.tools[rng.randrange(len(params.tools))]
    for tool in params.tools:  # auto: a tool the user mentions by name
        if re.search(rf"(?<![\w-]){re.escape(tool.name)}(?![\w-])", params.last_user_text):
            return tool
    return None


def _tools(value: object) -> tuple[Tool, ...]:
    tools = []
    for item in value if isinstance(value, list) else []:
        function = item.get("function") if isinstance(item, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            tools.append(
                Tool(function["name"], parameters if isinstance(parameters, Mapping) else None)
            )
    return tuple(tools)


def _tool_choice(value: object, tools: tuple[Tool, ...]) -> tuple[str, str | None]:
    named = value.get("function") if isinstance(value, Mapping) else None
    name = named.get("name") if isinstance(named, Mapping) else None
    choice = value if value in ("none", "required") else "auto"
    if isinstance(name, str):
        choice = "function"
    if choice in ("required", "function") and not tools:
        raise RequestProblem(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
            "specified.",
            "tool_choice",
        )
    if choice == "function" and all(t.name != name for t in tools):
        known = ", ".join(repr(t.name) for t in tools)
        raise RequestProblem(
            f"Invalid value for 'tool_choice': no function named {name!r} in 'tools' "
            f"(the tools are {known}).",
            "tool_choice",
        )
    return str(choice), name if choice == "function" else None


def _response_format(value: object) -> tuple[str, Mapping[str, Any] | None]:
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind not in ("json_object", "json_schema"):
        return "text", None
    spec = value.get("json_schema") if isinstance(value, Mapping) else None
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    return str(kind), schema if isinstance(schema, Mapping) else None


def _text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return " ".join(
        p["text"] for p in parts
        if isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str)
    )  # fmt: skip


def _rng(key: bytes, purpose: str) -> random.Random:
    digest = hashlib.sha256(key + b"\0" + purpose.encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))  # noqa: S311 - a toy model, not crypto


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
