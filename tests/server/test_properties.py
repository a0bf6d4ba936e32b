"""Properties: built instances fit their schemas; every answer keeps the contract."""

from __future__ import annotations

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.server import ServerConfig, minimal_instance
from conformance.server._generator import VOCABULARY
from tests.server.helpers import chat, chat_body, stream_chunks, streamed_text, violations

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["date-time", "date", "email", "uri", "uuid", "ipv4", "hostname"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=5))


@st.composite
def strings(draw):
    schema = {"type": "string"}
    low = draw(st.integers(0, 30))
    if draw(st.booleans()):
        schema["minLength"] = low
    if draw(st.booleans()):
        schema["maxLength"] = low + draw(st.integers(0, 10))
    if draw(st.booleans()):
        schema["format"] = draw(st.sampled_from(FORMATS))  # a fixed text: no length bounds
        schema.pop("minLength", None)
        schema.pop("maxLength", None)
    return schema


@st.composite
def numbers(draw):
    kind = draw(st.sampled_from(["integer", "number"]))
    schema = {"type": kind}
    low = draw(st.integers(-1000, 1000) | st.floats(-1000, 1000, allow_nan=False))
    width = draw(st.floats(3, 500))
    step = draw(
        st.none() | st.sampled_from([1, 2, 3, 7] if kind == "integer" else [0.5, 0.25, 0.1, 2])
    )
    if step is not None:
        schema["multipleOf"] = step
        width = max(width, 3 * step + 1)
    if draw(st.booleans()):
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = low + width
    return schema


LEAVES = st.one_of(
    strings(),
    numbers(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({}),
    st.just({"type": ["string", "null"]}),
    st.lists(SCALARS, min_size=1, max_size=4, unique_by=repr).map(lambda v: {"enum": v}),
    SCALARS.map(lambda v: {"const": v}),
    st.just({"type": "array", "items": {"type": "integer"}, "minItems": 3, "uniqueItems": True}),
    st.just({"type": "array", "items": {"type": "string"}, "minItems": 3, "uniqueItems": True}),
)
NAMES = st.text(st.sampled_from("abcdxyz_"), min_size=1, max_size=6)


def _objects(children):
    @st.composite
    def build(draw):
        properties = draw(st.dictionaries(NAMES, children, max_size=4))
        required = (
            draw(st.lists(st.sampled_from(sorted(properties)), unique=True)) if properties else []
        )
        schema = {"type": "object", "properties": properties, "required": required}
        if draw(st.booleans()):
            schema["additionalProperties"] = False
        if draw(st.booleans()):
            schema["minProperties"] = draw(st.integers(0, len(properties)))
        return schema

    return build()


def _compound(children):
    objects = _objects(children)
    return st.one_of(
        objects,
        st.builds(_array, children, st.integers(0, 3)),
        st.lists(children, min_size=1, max_size=3).map(lambda b: {"anyOf": b}),
        st.tuples(children, children).map(lambda b: {"prefixItems": list(b), "minItems": 2}),
        st.tuples(objects, objects).map(_disjoint_all_of),
    )


def _array(items, n):
    return {"type": "array", "items": items, "minItems": n}


def _disjoint_all_of(pair):
    """Two object schemas over different names (each branch of allOf sees only its own)."""
    return {"allOf": [_prefixed(pair[0], "a_"), _prefixed(pair[1], "b_")]}


def _prefixed(schema, prefix):
    return {
        "type": "object",
        "properties": {prefix + k: v for k, v in schema["properties"].items()},
        "required": [prefix + k for k in schema["required"]],
    }


SCHEMAS = st.recursive(LEAVES, _compound, max_leaves=12)
# References resolve against the root, so definitions live there (nested ones could collide).
ROOTS = SCHEMAS | SCHEMAS.map(lambda s: {
    "$defs": {"inner": s}, "type": "object",
    "properties": {"p": {"$ref": "#/$defs/inner"}, "q": {"$ref": "#/$defs/inner"}},
    "required": ["p"], "minProperties": 2})  # fmt: skip


@FAST
@given(ROOTS)
def test_minimal_instance_is_valid_against_its_schema(schema):
    instance = minimal_instance(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
    assert errors == [], instance


def test_minimal_instance_examples():
    person = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 8},
            "age": {"type": "integer", "exclusiveMinimum": 17, "maximum": 130},
            "pets": {"type": "array", "items": {"$ref": "#/$defs/pet"}, "minItems": 1},
            "nick": {"type": "string"},
        },
        "required": ["name", "age", "pets"],
        "$defs": {"pet": {"type": "object", "properties": {"kind": {"enum": ["cat", "dog"]}},
                          "required": ["kind"]}},
    }  # fmt: skip
    words = iter(["river", "stone", "cloud"]).__next__
    assert minimal_instance(person, words=words) == {
        "name": "river stone", "age": 18, "pets": [{"kind": "cat"}]}  # fmt: skip
    assert minimal_instance({"type": "number", "minimum": 2.5}) == 2.5
    assert minimal_instance({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}) == 0.5
    assert minimal_instance({"type": "integer", "multipleOf": 5, "minimum": 12}) == 15
    assert minimal_instance({}) == {}
    assert minimal_instance({"type": "object"}) == {}
    assert minimal_instance({"oneOf": [{"type": "null"}, {"type": "string"}]}) is None
    assert minimal_instance({"$ref": "#/nowhere"}) == {}
    # A schema that requires itself has no finite instance; the builder still ends.
    loop = {"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]}
    assert isinstance(minimal_instance(loop), dict)


STOPS = st.sampled_from(VOCABULARY).map(lambda w: " " + w) | st.text(max_size=3)
REQUESTS = st.fixed_dictionaries(
    {},
    optional={
        "n": st.integers(1, 3),
        "max_tokens": st.integers(0, 25),
        "max_completion_tokens": st.integers(0, 25),
        "stop": st.lists(STOPS, max_size=3),
        "logprobs": st.booleans(),
        "seed": st.integers(-(2**31), 2**31),
        "temperature": st.floats(0, 2),
        "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}, None]),
        "stream_options": st.just({"include_usage": True}),
    },
)


@settings(max_examples=30, deadline=None)
@given(REQUESTS, st.sampled_from(["strict", "openai"]), st.text(max_size=40))
def test_every_answer_keeps_the_contract(fields, profile, prompt):
    if fields.get("logprobs"):
        fields["top_logprobs"] = 2
    config = ServerConfig(profile=profile)
    body = chat_body(prompt or "hi", **fields)
    answer = chat(body, config).json()
    assert violations("ChatCompletionResponse", answer, profile) == []
    usage = answer["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] == len((prompt or "hi").split())
    limit = min((fields[k] for k in ("max_tokens", "max_completion_tokens") if k in fields),
                default=None)  # fmt: skip
    assert len(answer["choices"]) == fields.get("n", 1)
    counted = 0
    for choice in answer["choices"]:
        content = choice["message"]["content"]
        counted += len(content.split())
        if limit is not None:
            assert len(content.split()) <= limit
        for stop in fields.get("stop", []):
            assert not stop or stop not in content
        assert (choice["logprobs"] is None) == (not fields.get("logprobs"))
    assert counted == usage["completion_tokens"]

    chunks = stream_chunks(chat({**body, "stream": True}, config))
    for c in chunks:
        assert violations("ChatCompletionChunk", c, profile) == []
    for choice in answer["choices"]:
        assert streamed_text(chunks, choice["index"]) == choice["message"]["content"]
    if "stream_options" in fields:
        assert chunks[-1]["usage"] == usage
