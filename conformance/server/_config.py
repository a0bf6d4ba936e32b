"""How the reference server is set up, and the deliberate defects it can be told to have."""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.contract._spec import unknown_profile

DEFAULT_MODEL = "conformance/reference-1"
MODES: dict[str, str] = {
    "toy": "deterministic: the same request gets the same answer, a dictated answer is obeyed",
    "model": "a small sampling model: ignores instructions, writes random word pieces, stops "
    "at random or at the cap, calls random tools; fresh randomness unless seeded",
}

# Each defect breaks one promise of the contract at one place, so that our own tests can
# prove that the check for that promise fires. The descriptions feed `--defect` help text.
DEFECTS: dict[str, str] = {
    "no-done": "streams end without the `data: [DONE]` terminator",
    "data-after-done": "streams send one more chunk after `data: [DONE]`",
    "bad-usage-total": "usage.total_tokens is prompt + completion + 1 (streamed and not)",
    "missing-chunk-id": "stream chunks carry no `id`",
    "missing-service-tier": "non-streamed responses carry no `service_tier`",
    "wrong-object": 'non-streamed responses say `object: "chat.completion.chunk"`',
    "stream-json-content-type": "streams are sent with Content-Type application/json",
    "accept-any-key": "the API key is never checked: requests without one are served",
    "invalid-request-500": "requests that fail validation get 500 text/plain Internal Server Error",
    "invalid-request-200": "schema-invalid JSON requests are served as if they were valid (200)",
    "html-error-page": "every error is answered as 500 with an HTML page",
    "not-json-500": "a request body that is not JSON (or not labelled JSON) gets 500 "
    "text/plain Internal Server Error",
    "role-user-answer": 'non-streamed answers say `role: "user"` (streams still say assistant)',
    # Combination-only defects: the fixed probes never show them, exploration must.
    "n-stream-500": "a request with n > 1 and stream: true gets 500 Internal Server Error",
    "negative-presence-penalty-rejected": "presence_penalty below 0 (valid: -2 to 2) is "
    "refused with 400",
    # Feature areas (see server/_feature_defects.py): tools, formats, logprobs, messages...
    "tool-choice-required-ignored": 'tool_choice "required" is ignored: the answer is text',
    "tool-choice-named-wrong": "tool_choice naming a function calls another declared function",
    "tool-choice-none-ignored": 'tool_choice "none" is ignored: a declared tool is called',
    "tool-call-no-id": "non-streamed tool calls carry no `id`",
    "tool-arguments-object": "non-streamed tool-call `arguments` is a JSON object, not a string",
    "empty-arguments-string": 'tool calls without arguments carry `arguments: ""`, not "{}"',
    "tool-stream-no-index": "streamed tool-call deltas carry no `index`",
    "tool-stream-other-tool": 'streams answer tool_choice "required" or naming a function with '
    "a call to another tool than the non-streamed answer",
    "reject-empty-assistant-content": 'an assistant message with tool_calls and content "" '
    "is refused with 400",
    "json-object-not-json": "JSON mode (response_format json_object) answers plain text",
    "json-schema-off-schema": "response_format json_schema answers a JSON object that ignores "
    "the schema",
    "logprobs-missing": "logprobs: true is answered with logprobs null",
    "logprobs-positive": "token logprobs are above 0 (their sign flipped)",
    "top-logprobs-unsorted": "top_logprobs are listed least likely first",
    "logprobs-bad-bytes": "logprob `bytes` lack the token's last byte",
    "logprobs-when-off": "logprobs: false is answered with logprobs",
    "reject-system-role": "system messages are refused with 400",
    "reject-content-parts": "message content given as an array of parts is refused with 400",
    "reject-message-name": "messages with a `name` are refused with 400",
    "reject-unknown-fields": "unknown request fields are refused with 400 (as OpenAI does)",
    "unknown-fields-500": "unknown request fields cause a 500",
    "unknown-model-served": "a request for an unknown model is served as the first model",
    "invalid-request-poisons": "after three schema-invalid requests in a row, the next valid "
    "request gets 500",
    "reasoning-effort-500": "reasoning_effort causes a 500",
    "reasoning-content-not-string": "streamed reasoning_content is a list of text parts",
    "reasoning-in-content": "reasoning is sent inside content between <think> tags",
    # Stream, envelope, usage, finish_reason and sampling (see server/_stream_defects.py).
    "glued-events": "stream chunks are not separated by a blank line (one event, many lines)",
    "stream-by-default": "a request without `stream` is answered as an event stream",
    "unstable-chunk-id": "every chunk of a stream has another `id`",
    "wrong-chunk-object": 'stream chunks say `object: "chat.completion"`',
    "no-delta-role": "no delta carries `role`, not even the first of each choice",
    "double-finish": "each choice's finish_reason is sent twice in streams",
    "usage-chunk-with-choices": "the include_usage usage rides on the last content chunk, "
    "which has choices",
    "unrequested-usage": "streams carry a usage chunk even without include_usage",
    "cached-over-prompt": "usage.prompt_tokens_details.cached_tokens is prompt_tokens + 5",
    "stream-usage-differs": "streamed usage counts one prompt token more than the same "
    "request not streamed",
    "length-as-stop": 'an answer cut by max_tokens finishes with "stop", not "length"',
    "tool-calls-finish-stop": 'answers with tool calls finish with "stop", not "tool_calls"',
    "bad-finish-reason": 'finish_reason "eos" (not in the enum) instead of "stop"',
    "ignore-max-tokens": "max_tokens and max_completion_tokens are ignored",
    "ignore-stop": "stop sequences are ignored",
    "n-ignored": "n is ignored: one choice, whatever n asks for",
    "reject-seed": "a request with `seed` is refused with 400",
    "reject-top-p-zero": "top_p 0 (the document's minimum) is refused with 400",
    # Optional parameters and encodings (see server/_encoding.py).
    "ai-project-id-500": "a request with the ai_project_id query parameter gets 500",
    "gzip-declared-plain": "answers declare Content-Encoding: gzip (when the client accepts "
    "gzip) but are sent uncompressed",
    # Defects that show only sometimes, as a real server's do (see server/_sometimes_defects.py).
    "tool-choice-named-as-auto": "a named tool_choice is treated as auto: a random declared "
    "tool (or text) in model mode, the named one only by chance",
    "stop-text-kept": "when the model writes a stop text, content keeps it (cut after it, "
    "not before); answers that never wrote it are right",
    "created-per-chunk": "each stream chunk's `created` is the clock's second when it is sent, "
    "so `created` changes when a stream crosses a second",
    "usage-total-sometimes-off": "on about one request in three, usage.total_tokens is one "
    "more than prompt + completion (streamed and not)",
    "json-schema-sometimes-off": "on about two requests in five, response_format json_schema "
    "is answered as JSON mode (any JSON object, not the schema's)",
    "max-tokens-off-by-one": "max_tokens lets one token more through: only answers the cap "
    "cuts are one token too long",
    # What a stream says (issue 19; see server/_text_defects.py).
    "stream-stop-leak": "streams are written past a stop text and cut before its last "
    "character: a streamed answer ends with the start of the stop text (not streamed: right)",
    "split-multibyte-char": "streams split a character of 3 or 4 UTF-8 bytes (CJK, emoji) "
    "across two events: neither event is valid UTF-8",
    "logprobs-short": "an answer's last two tokens are sent as one, with the first one's "
    "logprobs entry only: logprobs.content does not spell the end of the content",
    "chunks-after-error-event": "streams send an error event after two chunks, then the "
    "rest of the chunks",
    "reasoning-in-content-too": "the reasoning is sent in its field and again at the start "
    "of content",
    # Streamed tool calls and the identity fields of a delta (see server/_tool_defects.py).
    "tool-calls-one-index": "streamed parallel tool calls all carry `index` 0",
    "tool-call-ids-shared": "streamed parallel tool calls all carry the first call's `id` "
    "(one id under several indexes)",
    "tool-arguments-repeated": "each streamed tool-call delta carries the arguments sent so "
    "far, not the next fragment (profile openai; strict sends each call whole)",
    "repeat-delta-identity": "later deltas repeat `role`, and later tool-call fragments "
    "their call's `id`, `type` and `function.name`",
    "empty-tool-calls": "messages and content deltas without a call carry `tool_calls: []`",
    # Issue 19: lenient or particular servers, as real ones are (see server/_lenient.py).
    "lenient-coercion": 'a pydantic-style server: "8" is read as 8 for integer fields and '
    "an unknown message role as user, so those invalid requests are served",
    "tool-arguments-loose": "tool-call arguments follow a function's parameters only under "
    "strict: true; otherwise they miss the required properties",
    "reasoning-model": "answers as OpenAI's reasoning models do: max_tokens, a temperature "
    "other than 1, stop and logprobs are refused with 400 unsupported_parameter/value",
    "tool-finish-sometimes-stop": "on about one request in four, a choice that calls a tool "
    'finishes with "stop", not "tool_calls"',
}

REASONING_FIELDS = ("reasoning_content", "reasoning")

# Each fault is what a real network or gateway does to a faithful server (see _faults.py).
FAULTS: dict[str, str] = {
    "rate-limit": "the first attempt of each request gets 429 with Retry-After: 1 (seconds)",
    "rate-limit-date": "the first attempt of each request gets 429 with Retry-After as an HTTP "
    "date (the next whole second)",
    "rate-limit-reset": "the first attempt of each request gets 429 with "
    "x-ratelimit-remaining-requests: 0 and x-ratelimit-reset-requests: 50ms",
    "rate-limit-always": "every request gets 429 (Retry-After: 0): it never gets through",
    "server-errors": "a 5xx burst: the first two attempts of each request get 503, the third "
    "is served",
    "gateway-html": "streamed requests get 502 with a gateway's HTML error page, every time",
    "reset-mid-stream": "streams are cut after two events: the connection closes mid-body",
    "stall-mid-stream": "streams go silent after two events and never resume",
    "endless-stream": "streams never end: after two events a content chunk repeats, no [DONE]",
    "invalid-utf8": "bodies and stream chunks carry a byte that is not UTF-8 (0xFF) in content",
    "huge-body": "non-streamed answers are 12 MB (past the client's 4 MiB body cap)",
    "error-event-mid-stream": "streams send an error event (overloaded) after two events, "
    "then [DONE]; the status stays 200",
    "error-body-200": "non-streamed answers are 200 with an error object for a body",
    "echo-auth": "every answer echoes the Authorization header it got: in a header, the "
    "content, error messages and a stream comment",
}


@dataclass(frozen=True)
class ServerConfig:
    """The reference server's settings. Invalid settings raise ``ValueError`` at construction."""

    api_key: str | None = field(default=None, repr=False)  # never shown, not even in repr()
    models: tuple[str, ...] = (DEFAULT_MODEL,)
    mode: str = "toy"  # a key of MODES
    seed: int | None = None  # toy: None is 0; model: None draws fresh randomness per request
    # strict: role in every delta, as the document demands (openai-python's stream helper
    # then reads role "assistantassistant...": schemas/ERRATA.md delta-role-required); openai:
    # on a choice's first delta only, which every tested client reads right. `conformance
    # serve` and the embedded server of `conformance run` default to openai (their options);
    # this object, built in code and by the tests, keeps the document's word.
    profile: str = "strict"
    defects: frozenset[str] = frozenset()
    faults: frozenset[str] = frozenset()
    latency_s: float = 0.0  # added before every answer
    chunk_delay_s: float = 0.0  # between the events of a stream
    gzip: bool = False  # gzip every answer to a client that accepts it
    # The name of the reasoning field: "reasoning_content" (DeepSeek's, the document's) or
    # "reasoning" (vLLM's and OpenRouter's).
    reasoning_field: str = "reasoning_content"

    def __post_init__(self) -> None:
        # Accept any iterable for the collections, keep them immutable.
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "defects", frozenset(self.defects))
        object.__setattr__(self, "faults", frozenset(self.faults))
        if self.api_key == "":
            raise ValueError(
                "api_key is the empty string; pass None to serve without authentication "
                "or a non-empty key to require `Authorization: Bearer <key>`."
            )
        if not self.models or not all(isinstance(m, str) and m for m in self.models):
            raise ValueError(
                f"models must be a non-empty list of model names, got {list(self.models)!r}; "
                f"pass at least one name, e.g. ({DEFAULT_MODEL!r},)."
            )
        if self.mode not in MODES:
            raise ValueError(
                f"mode {self.mode!r} is unknown; use 'toy' (deterministic answers) or 'model' "
                "(a model-like server: random answers, reproducible with a seed)."
            )
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ValueError(f"seed {self.seed!r} must be an integer or None.")
        wrong_profile = unknown_profile(self.profile)
        if wrong_profile is not None:
            raise ValueError(wrong_profile)
        unknown = sorted(self.defects - DEFECTS.keys())
        if unknown:
            raise ValueError(
                f"unknown defect {', '.join(repr(d) for d in unknown)}; "
                f"known defects: {', '.join(sorted(DEFECTS))}."
            )

        unknown = sorted(self.faults - FAULTS.keys())
        if unknown:
            raise ValueError(
                f"unknown fault {', '.join(repr(f) for f in unknown)}; "
                f"known faults: {', '.join(sorted(FAULTS))}."
            )
        if self.reasoning_field not in REASONING_FIELDS:
            raise ValueError(
                f"reasoning_field {self.reasoning_field!r} is unknown; use "
                f"{' or '.join(map(repr, REASONING_FIELDS))}."
            )
        for name in ("latency_s", "chunk_delay_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 3600):
                raise ValueError(f"{name} {value!r} must be between 0 and 3600 seconds.")

    def has(self, defect: str) -> bool:
        """Whether the deliberate defect ``defect`` (a key of ``DEFECTS``) is switched on."""
        if defect not in DEFECTS:  # a typo here would silently switch a defect off
            raise KeyError(f"{defect!r} is not a defect; known defects: {', '.join(DEFECTS)}")
        return defect in self.defects
