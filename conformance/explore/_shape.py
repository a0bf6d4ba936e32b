"""What exploration sends: the request schema narrowed so that every generated request is
cheap, and a few coherence rules the document cannot express.

The generation schema is derived from the contract in force (never written by hand): the
same ``ChatCompletionRequest`` with caps added. Every instance of it is valid against the
original, which :func:`valid_requests` confirms with the contract's own validator.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis_jsonschema import from_schema

from conformance.contract._spec import Contract
from conformance.explore._options import Shaping

REQUEST = "ChatCompletionRequest"
TEXT = r"^([a-z]{1,6} ?){0,3}$"  # short ASCII words: message text, names, stop strings
TOOL_NAME = r"^[a-z]{1,8}$"  # OpenAI tool names: letters, digits, _ and -, up to 64


def generation_schema(contract: Contract, model: str, shaping: Shaping) -> dict[str, Any]:
    """``ChatCompletionRequest`` narrowed by ``shaping``, as a root schema for generation."""
    components = copy.deepcopy(contract.components())
    request = components[REQUEST]
    properties = request["properties"]
    properties["model"] = {"const": model}
    for name, cap in shaping.caps().items():
        if name in properties:
            _cap_integers(properties[name], cap)
    options = properties.get("stream_options")
    if isinstance(options, dict):
        # The one option the property's description names; other keys are unknown to servers.
        for branch in _branches(options):
            if branch.get("type") == "object":
                branch["propertyNames"] = {"enum": ["include_usage"]}
                branch["maxProperties"] = 1
    message = components.get("ChatCompletionMessage", {}).get("properties", {})
    # Tool results and assistant tool calls need a conversation to be coherent; message
    # content is text (an image or video URL would make the endpoint fetch a random address).
    for name in ("tool_calls", "tool_call_id"):
        message.pop(name, None)
    _text_parts_only(message.get("content"), components)
    for name, schema in components.items():
        components[name] = _narrow(schema, shaping, name)
    request["additionalProperties"] = False
    return {"$ref": f"#/components/schemas/{REQUEST}", "components": {"schemas": components}}


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in schema.get("anyOf", [schema]) if isinstance(b, dict)]


def _cap_integers(schema: dict[str, Any], cap: int) -> None:
    for branch in _branches(schema):
        if branch.get("type") == "integer":
            branch["maximum"] = min(branch.get("maximum", cap), cap)


def _text_parts_only(content: Any, components: dict[str, Any]) -> None:
    if not isinstance(content, dict):
        return
    for branch in _branches(content):
        items = branch.get("items")
        if branch.get("type") == "array" and isinstance(items, dict) and "anyOf" in items:
            kept = [
                ref
                for ref in items["anyOf"]
                if "text" in resolve(ref, components).get("properties", {})
            ]
            items["anyOf"] = kept or items["anyOf"]


def resolve(schema: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The schema a node stands for: ``$ref``s to components and one-item ``allOf``s
    followed (a few levels at most); {} for anything that is not a schema object."""
    for _ in range(8):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            schema = components.get(ref.rsplit("/", 1)[1], {})
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            schema = all_of[0]
            continue
        return schema
    return {}


def _narrow(schema: Any, shaping: Shaping, where: str) -> Any:
    """Close objects to their declared properties, empty free-form ones, and bound arrays
    and strings; everything else as the document says."""
    if isinstance(schema, list):
        return [_narrow(item, shaping, where) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _narrow(value, shaping, f"{where}.{key}") for key, value in schema.items()}
    kind = out.get("type")
    if kind == "object":
        if "properties" in out:
            if out.get("additionalProperties", True) is True:
                out["additionalProperties"] = False
        elif "propertyNames" not in out:
            out["maxProperties"] = 0  # free-form (tool parameters, logit_bias...): {}
    elif kind == "array":
        out["maxItems"] = min(out.get("maxItems", shaping.array_items), shaping.array_items)
    elif kind == "string" and not ({"enum", "const", "pattern", "format"} & out.keys()):
        out["maxLength"] = min(out.get("maxLength", shaping.string_length), shaping.string_length)
        out["pattern"] = TOOL_NAME if where.endswith("FunctionObject.properties.name") else TEXT
    return out


def cohere(body: dict[str, Any], shaping: Shaping) -> dict[str, Any]:
    """Apply the rules endpoints enforce that the document cannot state (OpenAI's API
    reference): ``top_logprobs`` needs ``logprobs: true``; a required or named
    ``tool_choice`` needs ``tools`` (a named one, a tool of that name); the conversation
    ends with a user message; and at least one token cap is set, so no request runs to the
    model's default length."""
    out = copy.deepcopy(body)
    if out.get("top_logprobs") is not None:
        out["logprobs"] = True
    tools = out.get("tools") or []
    choice = out.get("tool_choice")
    if isinstance(choice, dict) or choice == "required":
        if not tools:
            del out["tool_choice"]
        elif isinstance(choice, dict):
            name = tools[0].get("function", {}).get("name", "")
            out["tool_choice"] = {**choice, "function": {"name": name}}
    messages = out.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        messages[-1]["role"] = "user"
    if not any(isinstance(out.get(k), int) for k in ("max_tokens", "max_completion_tokens")):
        out["max_tokens"] = shaping.max_tokens
    return out


def generate(strategy: st.SearchStrategy[Any], seed: int, examples: int) -> list[Any]:
    """Up to ``examples`` draws from ``strategy``; the same seed gives the same list."""
    drawn: list[Any] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    with contextlib.suppress(HypothesisException):  # e.g. all filtered: use what was drawn
        collect()
    return drawn[:examples]


class RequestFactory:
    """Schema-valid, shaped and coherent requests (checked against the contract itself).

    Hypothesis draws a pool of values for each property from the generation schema; each
    request then takes every optional property with even odds, independently, with a value
    from its pool, by a coin seeded from the run's seed. Drawn by hypothesis as whole
    objects, requests mostly carried only the required fields and two given parameters
    met in about 1 request of 56 (its generator favours small objects and varies its bias
    from run to run); with the coin, in 1 of 16 for two booleans.
    """

    def __init__(
        self, contract: Contract, model: str, shaping: Shaping, seed: int, pool: int = 16
    ) -> None:
        self.contract = contract
        self.shaping = shaping
        self.seed = seed
        root = generation_schema(contract, model, shaping)
        components = root["components"]
        request = components["schemas"][REQUEST]
        self.required = [k for k in request["properties"] if k in request.get("required", ())]
        self.pools: dict[str, list[Any]] = {}
        for offset, (name, schema) in enumerate(request["properties"].items()):
            used = _reachable(schema, components["schemas"])
            strategy = from_schema({**_not_null(schema), "components": {"schemas": used}})
            drawn = generate(strategy, seed + offset, pool)
            # distinct values: a field with two possible values gets each with even odds
            self.pools[name] = list({json.dumps(v, sort_keys=True): v for v in drawn}.values())
        self._validator = contract.validator(REQUEST)

    def valid(self, count: int, stream: str = "valid") -> list[dict[str, Any]]:
        """``count`` valid requests (fewer only if the contract rejects most compositions)."""
        coin = random.Random(f"{stream}:{self.seed}")  # noqa: S311 - test inputs, not secrets
        out: list[dict[str, Any]] = []
        for _ in range(count * 10):
            if len(out) >= count:
                break
            body = {
                name: coin.choice(values)
                for name, values in self.pools.items()
                if name in self.required or coin.random() < 0.5
            }
            body = cohere(body, self.shaping)
            if not self._validator.validate(body):
                out.append(body)
        return out


def _reachable(schema: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The component schemas ``schema`` refers to, directly or not (resolving fewer
    components makes hypothesis-jsonschema several times faster)."""
    found: dict[str, Any] = {}
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found and name in schemas:
                    found[name] = schemas[name]
                    stack.append(schemas[name])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
        if kept and len(kept) < len(branches):
            return {**schema, "anyOf": kept}
    return schema
