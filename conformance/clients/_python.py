"""The Python clients, fed recorded bytes through their own transport hook.

openai-python (``OpenAI(http_client=httpx.Client(transport=...))``) and langchain-openai's
``ChatOpenAI`` (``http_client=``) each get an ``httpx.MockTransport`` that answers whatever
they send with the recorded status, headers and body: nothing goes over the network. Each
returns a :class:`Reading` in the protocol's shape, or raises what the client raised.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, cast

import httpx

from conformance.clients._reading import USAGE_FIELDS, ChoiceReading, Reading

OPENAI_PYTHON = "openai-python"
LANGCHAIN = "langchain-openai"
PINS = {OPENAI_PYTHON: "openai==3.63.0", LANGCHAIN: "langchain-openai==1.8.1"}
DISTRIBUTIONS = {OPENAI_PYTHON: "openai", LANGCHAIN: "langchain-openai"}
BASE_URL = "http://replay.invalid/v1"  # never resolved: the transport answers every request
KEY = "replay"  # not a secret: the clients want one


@dataclass(frozen=True)
class Recorded:
    """An answer as recorded: what a client's transport returns."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    stream: bool
    request: dict[str, Any] | None = None

    def response(self) -> httpx.Response:
        return httpx.Response(self.status, headers=self.headers, content=self.body)


Mode = Callable[[Recorded], Reading]


class Clients:
    """The client objects of one replay, built once (a ChatOpenAI takes milliseconds to
    build): each answers every request with the answer being replayed (``current``)."""

    def __init__(self) -> None:
        self.current: Recorded | None = None
        self._built: dict[str, Any] = {}

    def answer(self, _: httpx.Request) -> httpx.Response:
        assert self.current is not None  # noqa: S101 - set by every mode before it reads
        return self.current.response()

    def http(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.answer))

    def get(self, name: str, build: Callable[[Clients], Any]) -> Any:
        if name not in self._built:
            self._built[name] = build(self)
        return self._built[name]


def version(client: str) -> str | None:
    """The installed version of ``client``, or None when it is not installed."""
    try:
        return metadata.version(DISTRIBUTIONS[client])
    except metadata.PackageNotFoundError:
        return None


def preload(clients: Sequence[str]) -> None:
    """Import the installed Python clients now (a second or two), so the replay need not."""
    for client in clients:
        if client in PINS and version(client) is not None:
            try:
                if client == OPENAI_PYTHON:
                    import openai.lib.streaming.chat  # noqa: F401
                else:
                    import langchain_openai  # noqa: F401
            except Exception:  # noqa: S110 - the replay reports it when it runs
                pass


def modes(client: str, stream: bool, clients: Clients) -> dict[str, Mode]:
    """The ways ``client`` reads a streamed (or a plain) answer, by mode name."""
    if client == OPENAI_PYTHON:
        if stream:
            found = {"create(stream=True)": _openai_create_stream, ".stream()": _openai_helper}
        else:
            found = {"create": _openai_create}
    elif stream:
        found = {"stream": _langchain_stream}
    else:
        found = {"invoke": _langchain_invoke}
    return {name: _bound(read, clients) for name, read in found.items()}


def _bound(read: Callable[[Recorded, Clients], Reading], clients: Clients) -> Mode:
    def mode(recorded: Recorded) -> Reading:
        clients.current = recorded
        return read(recorded, clients)

    return mode


def _messages(recorded: Recorded) -> list[dict[str, Any]]:
    body = recorded.request or {}
    sent = body.get("messages")
    if isinstance(sent, list) and sent and all(isinstance(m, dict) for m in sent):
        return sent
    return [{"role": "user", "content": "hi"}]


def _model(recorded: Recorded) -> str:
    model = (recorded.request or {}).get("model")
    return model if isinstance(model, str) and model else "model"


def _openai(clients: Clients) -> Any:
    def build(clients: Clients) -> Any:
        import openai

        return openai.OpenAI(
            api_key=KEY, base_url=BASE_URL, max_retries=0, http_client=cast(Any, clients.http())
        )

    return clients.get(OPENAI_PYTHON, build)


def _openai_create(recorded: Recorded, clients: Clients) -> Reading:
    client = _openai(clients)
    completion = client.chat.completions.create(
        model=_model(recorded), messages=_messages(recorded)
    )
    return _from_completion(completion)


def _openai_create_stream(recorded: Recorded, clients: Clients) -> Reading:
    from openai.lib.streaming.chat import ChatCompletionStreamState

    client = _openai(clients)
    state: Any = ChatCompletionStreamState()
    stream = client.chat.completions.create(
        model=_model(recorded), messages=_messages(recorded), stream=True
    )
    for chunk in stream:
        state.handle_chunk(chunk)
    return _from_completion(state.current_completion_snapshot)


def _openai_helper(recorded: Recorded, clients: Clients) -> Reading:
    import openai

    client = _openai(clients)
    with client.chat.completions.stream(
        model=_model(recorded), messages=_messages(recorded)
    ) as stream:
        for _ in stream:
            pass
        try:
            return _from_completion(stream.get_final_completion())
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError):
            # How the helper reports a "length" or "content_filter" finish: it read it right
            # (the comparison judges the finish_reason); the message is its snapshot.
            return _from_completion(stream.current_completion_snapshot)


def _from_completion(completion: Any) -> Reading:
    choices = []
    for choice in completion.choices or []:
        message = choice.message
        extra = message.model_extra or {}
        reasoning = next(
            (extra[k] for k in ("reasoning_content", "reasoning") if isinstance(extra.get(k), str)),
            None,
        )
        logprobs = choice.logprobs.content if choice.logprobs is not None else None
        choices.append(
            ChoiceReading(
                index=choice.index,
                role=message.role,
                content=message.content,
                refusal=message.refusal,
                reasoning=reasoning,
                tool_calls=[
                    {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                    for c in message.tool_calls or []
                    if getattr(c, "function", None) is not None
                ],
                finish_reason=choice.finish_reason,
                logprobs=None if logprobs is None else [t.token for t in logprobs],
            )
        )
    usage = completion.usage
    return Reading(
        choices,
        None if usage is None else {k: getattr(usage, k, None) for k in USAGE_FIELDS},
    )


def _langchain(clients: Clients, *, streaming: bool) -> Any:
    def build(clients: Clients) -> Any:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model="model",
            api_key=cast(Any, KEY),
            base_url=BASE_URL,
            max_retries=0,
            streaming=streaming,
            stream_usage=True,
            http_client=clients.http(),
        )

    return clients.get(f"{LANGCHAIN} {streaming}", build)


def _langchain_input(recorded: Recorded) -> list[tuple[str, str]]:
    out = []
    for message in _messages(recorded):
        content = message.get("content")
        role = str(message.get("role") or "user")
        if isinstance(content, str) and role in ("user", "system", "assistant"):
            out.append((role, content))
    return out or [("user", "hi")]


def _langchain_invoke(recorded: Recorded, clients: Clients) -> Reading:
    model = _langchain(clients, streaming=False)
    return _from_langchain(model.invoke(_langchain_input(recorded)))


def _langchain_stream(recorded: Recorded, clients: Clients) -> Reading:
    merged: Any = None
    for chunk in _langchain(clients, streaming=True).stream(_langchain_input(recorded)):
        merged = chunk if merged is None else merged + chunk  # AIMessageChunk addition
    if merged is None:
        return Reading([])
    return _from_langchain(merged, streamed=True)


def _from_langchain(message: Any, *, streamed: bool = False) -> Reading:
    meta = message.response_metadata or {}
    extra = message.additional_kwargs or {}
    calls: list[dict[str, str | None]] = []
    if streamed:
        for chunk in message.tool_call_chunks or []:
            calls.append(
                {"id": chunk.get("id"), "name": chunk.get("name"), "arguments": chunk.get("args")}
            )
    else:
        for call in message.tool_calls or []:
            calls.append(
                {
                    "id": call.get("id"),
                    "name": call.get("name"),
                    "arguments": json.dumps(call.get("args")),
                }
            )
        for call in message.invalid_tool_calls or []:
            calls.append(
                {"id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")}
            )
    logprobs = meta.get("logprobs")
    content = message.content
    usage = message.usage_metadata
    return Reading(
        [
            ChoiceReading(
                index=0,
                role=None,  # LangChain keeps no wire role: an AIMessage is the assistant's
                content=content if isinstance(content, str) else None,
                refusal=extra.get("refusal") if isinstance(extra.get("refusal"), str) else None,
                reasoning=None,  # ChatOpenAI does not read reasoning_content
                tool_calls=calls,
                finish_reason=meta.get("finish_reason"),
                logprobs=[str(t.get("token")) for t in logprobs.get("content") or []]
                if isinstance(logprobs, dict)
                else None,
            )
        ],
        None
        if not usage
        else {
            "prompt_tokens": usage.get("input_tokens"),
            "completion_tokens": usage.get("output_tokens"),
            "total_tokens": usage.get("total_tokens"),
        },
    )
