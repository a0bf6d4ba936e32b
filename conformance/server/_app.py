"""The reference server: an ASGI app that keeps the contract (unless told to break it).

``POST /v1/chat/completions`` checks, in order: the API key (401), the body's size (413),
its content type and JSON (422), the body against ``ChatCompletionRequest`` of the
configured profile (422), the model (404), and what OpenAI refuses with 400
(``top_logprobs`` above 20, a ``tool_choice`` that names no tool); then it answers with
the completion of its model (the deterministic toy, or in the model-like mode a small
sampling model), as JSON or as an event stream produced chunk by chunk.
``GET /v1/models`` lists the models.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from conformance._version import __version__
from conformance.contract._spec import default_contract
from conformance.server._config import ServerConfig
from conformance.server._encoding import GzipEncoder
from conformance.server._errors import (
    bad_request,
    error_response,
    not_json_response,
    validation_response,
    violation_detail,
)
from conformance.server._faults import FaultInjector
from conformance.server._feature_defects import FeatureDefects
from conformance.server._generator import RequestProblem, generate, read_params
from conformance.server._lenient import Lenient
from conformance.server._model_generator import ModelSampler, sample
from conformance.server._render import Envelope, chunk, chunks, response_body
from conformance.server._sometimes_defects import SometimesDefects, StreamClock
from conformance.server._stream_defects import StreamDefects
from conformance.server._text_defects import TextDefects
from conformance.server._tool_defects import ToolDefects
from conformance.wire._exchange import parse_json

MAX_BODY_BYTES = 32 * 1024 * 1024  # room for the document's largest image URL (~14 MB)
MODELS_CREATED = 1_735_689_600  # 2025-01-01T00:00:00Z: a fixed date keeps /v1/models stable
_SERVICE_TIERS = {"flex": "flex", "no-limit": "no-limit"}  # others are served as "default"
_JSON_TYPES = ("application/json",)


def create_app(config: ServerConfig = ServerConfig()) -> Starlette:  # noqa: B008 - frozen
    """The reference server as an ASGI app, configured by ``config``."""
    server = _ReferenceServer(config)
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", server.chat_completions, methods=["POST"]),
            Route("/v1/models", server.list_models, methods=["GET"]),
        ],
        exception_handlers={HTTPException: server.http_exception},
    )
    if config.gzip or config.has("gzip-declared-plain"):
        app.add_middleware(GzipEncoder, config=config)
    if config.faults or config.latency_s:
        app.add_middleware(FaultInjector, config=config)
    return app


class _ReferenceServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.contract = default_contract(config.profile)
        self.request_validator = self.contract.validator("ChatCompletionRequest")
        self.seed = 0 if config.seed is None else config.seed  # the toy's seed
        self.model = ModelSampler(config.seed) if config.mode == "model" else None
        identity = f"{__version__} {self.seed} {config.profile} {sorted(config.defects)}"
        if self.model is not None:
            identity += f" model {config.seed}"
        self.fingerprint = "fp_" + hashlib.sha256(identity.encode()).hexdigest()[:10]
        self.features = FeatureDefects(config, self.contract)
        self.streaming = StreamDefects(config)
        self.sometimes = SometimesDefects(config)
        self.text = TextDefects(config)
        self.tool_defects = ToolDefects(config)
        self.lenient = Lenient(config)

    async def chat_completions(self, request: Request) -> Response:
        admitted = await self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        body, model = admitted
        refused_here = (
            self._query_defects(request)
            or self.features.refuse(body)
            or self.streaming.refuse(body)
            or self.lenient.refuse(body)
        )
        if refused_here is not None:
            return refused_here
        try:
            requested = read_params(self.lenient.loosen(body), seed=self.seed)
            params = self.streaming.adjust(self.features.adjust(body, requested))
            streamed = self.streaming.streams(body)
            params = self.text.adjust(params, streamed=streamed)
        except RequestProblem as exc:
            return bad_request(self.config, exc.message, exc.param)
        refused = self._combination_defects(body, params.n)
        if refused is not None:
            return refused
        if self.model is None:
            luck = 0.0  # the toy shows an intermittent defect wherever it can
            params = self.sometimes.adjust(params, luck)
            generated = generate(params)
        else:
            rng = self.model.rng(params)
            luck = rng.random()
            params = self.sometimes.adjust(params, luck)
            generated = sample(params, rng)
        generated = self.sometimes.completion(generated, requested.stop, luck)
        completion = self.streaming.completion(self.features.completion(generated))
        completion = self.text.completion(completion, requested.stop, streamed=streamed)
        clock = StreamClock.now()
        envelope = Envelope(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=clock.created,
            model=model,
            system_fingerprint=self.fingerprint,
            service_tier=_SERVICE_TIERS.get(str(body.get("service_tier")), "default"),
        )
        if not streamed:
            rendered = self.tool_defects.body(response_body(completion, envelope, self.config))
            rendered = self.text.body(self.features.body(rendered))
            return JSONResponse(self.sometimes.body(self.streaming.body(rendered), luck))
        options = body.get("stream_options")
        asked = isinstance(options, dict) and options.get("include_usage") is True
        include_usage = self.streaming.include_usage(asked)
        source = self.sometimes.chunks(
            self.streaming.chunks(
                self.text.chunks(
                    self.features.chunks(
                        self.tool_defects.chunks(
                            chunks(completion, envelope, self.config, include_usage=include_usage)
                        )
                    )
                )
            ),
            luck,
            clock,
        )
        json_defect = self.config.has("stream-json-content-type")
        return StreamingResponse(
            self._events(source, envelope),
            media_type="application/json" if json_defect else "text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    def _query_defects(self, request: Request) -> Response | None:
        """The defects that answer to the query parameters (the document's ai_project_id)."""
        if "ai_project_id" in request.query_params and self.config.has("ai-project-id-500"):
            return PlainTextResponse("Internal Server Error", 500)
        return None

    def _combination_defects(self, body: dict[str, Any], n: int) -> Response | None:
        """The defects that show only for some parameter combinations (for exploration)."""
        if self.config.has("n-stream-500") and n > 1 and body.get("stream") is True:
            return error_response(
                self.config, 500, "The server had an error while processing your request.",
                code=None, kind="server_error",
            )  # fmt: skip
        penalty = body.get("presence_penalty")
        if (
            self.config.has("negative-presence-penalty-rejected")
            and isinstance(penalty, int | float)
            and penalty < 0
        ):
            return bad_request(
                self.config,
                f"Invalid 'presence_penalty': this model supports values from 0 to 2, but got "
                f"{penalty}.",
                "presence_penalty",
            )
        return None

    async def _admit(self, request: Request) -> Response | tuple[dict[str, Any], str]:
        """The request body and model if the request may be served, else the error answer."""
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        raw = await _read_capped(request)
        if raw is None:
            return error_response(
                self.config,
                413,
                f"The request body is larger than {MAX_BODY_BYTES} bytes; send a smaller one.",
                code="request_too_large",
            )
        body, problem = _parse_json(request.headers.get("content-type"), raw)
        if problem is not None:
            return not_json_response(self.config, problem)
        body = self.lenient.coerce(body)
        violations = self.request_validator.validate(body)
        if violations:
            self.features.note_invalid()
        if violations and not self.config.has("invalid-request-200"):
            return validation_response(self.config, [violation_detail(v) for v in violations])
        served: dict[str, Any] = body if isinstance(body, dict) else {}
        model = served.get("model")
        if violations and not isinstance(model, str):
            model = self.config.models[0]  # invalid-request-200: serve whatever came
        if model not in self.config.models and not self.config.has("unknown-model-served"):
            return error_response(
                self.config,
                404,
                f"The model {model!r} does not exist. This server serves: "
                f"{', '.join(self.config.models)}.",
                param="model",
                code="model_not_found",
            )
        return served, str(model)

    async def _events(
        self, source: Iterator[dict[str, Any]], envelope: Envelope
    ) -> AsyncIterator[bytes]:
        """The event stream, one chunk per event, produced as the client reads it."""
        for event in self.text.events(source, _event):
            yield self.streaming.frame(event)
            # let the chunk go out before the next is built (and pace it, if told to)
            await asyncio.sleep(self.config.chunk_delay_s)
        glue = self.streaming.before_done()
        if glue:
            yield glue
        if not self.config.has("no-done"):
            yield b"data: [DONE]\n\n"
        if self.config.has("data-after-done"):
            yield _event(chunk(envelope, self.config, []))

    async def list_models(self, request: Request) -> Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        data = [
            {"id": name, "object": "model", "created": MODELS_CREATED, "owned_by": "conformance"}
            for name in self.config.models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        """Unknown paths (404) and methods (405) get an OpenAI-style body too."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        allow = next((v for k, v in headers.items() if k.lower() == "allow"), "another method")
        message = {
            404: f"No route for {request.url.path!r}. This server answers "
            "POST /v1/chat/completions and GET /v1/models.",
            405: f"Method {request.method} is not allowed on {request.url.path!r}; use {allow}.",
        }.get(status, f"HTTP {status}.")
        code = "not_found" if status == 404 else "method_not_allowed" if status == 405 else None
        return error_response(self.config, status, message, code=code, headers=headers)

    def _authenticate(self, request: Request) -> Response | None:
        """A 401 when a key is required and the request lacks it; ``None`` when it may go on."""
        key = self.config.api_key
        if key is None or self.config.has("accept-any-key"):
            return None
        header = request.headers.get("authorization")
        if header is None:
            message = (
                "You didn't provide an API key. Send it in the Authorization header: "
                "`Authorization: Bearer <key>`."
            )
        else:
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                token.strip().encode(), key.encode()
            ):
                return None
            message = (
                "Incorrect API key provided. Send the key this server was started with as "
                "`Authorization: Bearer <key>`."
            )
        return error_response(
            self.config, 401, message, code="invalid_api_key",
            headers={"www-authenticate": "Bearer"},
        )  # fmt: skip


async def _read_capped(request: Request) -> bytes | None:
    """The body, or ``None`` when it is larger than ``MAX_BODY_BYTES`` (reading stops there)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _parse_json(content_type: str | None, raw: bytes) -> tuple[Any, dict[str, Any] | None]:
    """The body as JSON, or the ``ValidationError`` entry that says why it is not."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if content_type is not None and not (media_type in _JSON_TYPES or media_type.endswith("+json")):
        return None, {
            "loc": ["body"],
            "msg": f"Content-Type must be application/json, not {media_type or '(empty)'!r}.",
            "type": "content_type",
        }
    try:  # JSON exchanged between systems is UTF-8 (RFC 8259, section 8.1)
        return parse_json(raw.decode("utf-8"), parse_constant=_reject_constant), None
    except UnicodeDecodeError as exc:
        reason = f"the body is not UTF-8 ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    except ValueError as exc:  # NaN, Infinity; nested too deep to validate (TooDeep)
        reason = str(exc)
    return None, {"loc": ["body"], "msg": f"JSON decode error: {reason}.", "type": "json_invalid"}


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def _event(item: dict[str, Any]) -> bytes:
    text = json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return b"data: " + text.encode("utf-8") + b"\n\n"
