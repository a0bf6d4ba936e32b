"""Talk to the reference app in-process, and read its answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from conformance.contract._spec import default_contract
from conformance.server import DEFAULT_MODEL, ServerConfig, create_app

MODEL = DEFAULT_MODEL
BASE_URL = "http://testserver/v1"


def chat_body(text: str = "Say something nice about rivers.", **fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **fields}


def request(
    config: ServerConfig | None = None,
    body: Any = None,
    *,
    method: str = "POST",
    path: str = "/chat/completions",
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """One request to a fresh app, in-process (the body read whole)."""
    app = create_app(config or ServerConfig())

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            if content is not None:
                return await client.request(method, path, content=content, headers=headers)
            if body is None:
                return await client.request(method, path, headers=headers)
            return await client.request(method, path, json=body, headers=headers)

    return asyncio.run(go())


def chat(body: Any, config: ServerConfig | None = None, **kwargs: Any) -> httpx.Response:
    return request(config, body, **kwargs)


def chats(config: ServerConfig, bodies: list[Any]) -> list[httpx.Response]:
    """The bodies sent one after the other to one app (a seeded model-like server counts
    the requests it has seen), in-process."""
    app = create_app(config)

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            return [await client.post("/chat/completions", json=body) for body in bodies]

    return asyncio.run(go())


def events(response: httpx.Response) -> list[str]:
    """The `data` of each event of an SSE body written as `data: ...\\n\\n` (asserted)."""
    text = response.text
    assert text.endswith("\n\n"), text[-200:]
    out = []
    for block in text[:-2].split("\n\n"):
        assert block.startswith("data: "), block
        assert "\n" not in block, block
        out.append(block.removeprefix("data: "))
    return out


def stream_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    """The chunks of a stream that ends with exactly one [DONE] (asserted)."""
    data = events(response)
    assert data[-1] == "[DONE]"
    assert "[DONE]" not in data[:-1]
    return [json.loads(d) for d in data[:-1]]


def violations(schema: str, instance: Any, profile: str = "strict") -> list[str]:
    """Readable violations of a component schema, so a failing assert shows them."""
    found = default_contract(profile).validator(schema).validate(instance)
    return [f"{v.json_path}: {v.message}" for v in found]


def assert_valid(
    schema: str, instance: Any, profiles: tuple[str, ...] = ("strict", "openai")
) -> None:
    """Valid under each profile: the strict server's output is valid under both."""
    for profile in profiles:
        assert violations(schema, instance, profile) == [], profile


def streamed_text(chunks: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for c in chunks
        for choice in c["choices"]
        if choice["index"] == index
    )
