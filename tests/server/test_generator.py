"""The toy model's pieces: cutting at stop texts and limits, words, paths back to locations."""

from __future__ import annotations

import pytest

from conformance.contract._spec import default_contract
from conformance.server._errors import json_path_parts, violation_detail
from conformance.server._generator import Params, cut, generate, read_params
from conformance.server._instance import word_source

TOKENS = ["alpha", " beta", " gamma", " delta"]


@pytest.mark.parametrize(
    ("stops", "limit", "expected"),
    [
        ([], None, (TOKENS, "stop")),
        ([], 2, (TOKENS[:2], "length")),
        ([], 4, (TOKENS, "stop")),
        ([], 0, ([], "length")),
        ([" gamma"], None, (TOKENS[:2], "stop")),
        (["mm"], None, (["alpha", " beta", " ga"], "stop")),  # cut inside a token
        ([" "], None, (["alpha"], "stop")),  # nothing but whitespace left of the token: dropped
        (["alpha"], None, ([], "stop")),
        ([" beta gamma"], 2, (TOKENS[:2], "length")),  # the stop text is not complete at 2
        ([" beta gamma"], 3, (["alpha"], "stop")),
        ([" beta"], 2, (["alpha"], "stop")),
        (["alpha beta gamma delta", " beta"], None, (["alpha"], "stop")),  # completes first
        (["", "zzz"], None, (TOKENS, "stop")),  # empty and absent stops change nothing
    ],
)
def test_cut_stops_at_whichever_comes_first(stops, limit, expected):
    tokens, finish = cut(TOKENS, stops, limit)
    assert (tokens, finish) == expected
    for stop in stops:
        if stop:
            assert stop not in "".join(tokens)


def test_word_source_never_repeats_a_word():
    next_word = word_source(("a", "b", "c"), start=1)
    assert [next_word() for _ in range(7)] == ["b", "c", "a2", "b2", "c2", "a3", "b3"]
    with pytest.raises(ValueError, match=r"^word_source needs at least one word"):
        word_source(())


def test_params_ignore_fields_of_the_wrong_type():
    params = read_params(
        {"n": "3", "max_tokens": -1, "stop": 5, "logprobs": "yes", "messages": "hi",
         "tools": {"a": 1}, "tool_choice": 7, "response_format": "json"},
        seed=0,
    )  # fmt: skip
    assert (params.n, params.limit, params.stop, params.logprobs) == (1, None, (), False)
    assert (params.tools, params.tool_choice, params.response_format) == ((), "auto", "text")
    assert params.prompt_tokens == 0
    assert read_params([1, 2], seed=0).n == 1


def test_answers_do_not_depend_on_shaping_fields():
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    reference = _texts(read_params(base, seed=3))
    shaped = {**base, "stream": True, "n": 1, "logprobs": True, "user": "u", "store": False}
    assert _texts(read_params(shaped, seed=3)) == reference
    assert _texts(read_params(base, seed=4)) != reference
    assert _texts(read_params({**base, "temperature": 0.5}, seed=3)) != reference


def _texts(params: Params) -> list[str]:
    return ["".join(c.tokens) for c in generate(params).choices]


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("$", []),
        ("$.messages[0].role", ["messages", 0, "role"]),
        ('$.tools[12]["a b"][3]', ["tools", 12, "a b", 3]),
        ('$["0"].x["q\\"uote"]', ["0", "x", 'q"uote']),
        ("$.café", ["café"]),
    ],
)
def test_json_path_parts_undo_the_validators_paths(path, parts):
    assert json_path_parts(path) == parts


def test_violation_detail_points_at_the_missing_property():
    validator = default_contract().validator("ChatCompletionRequest")
    [missing] = validator.validate({"model": "m", "messages": [{"content": "x"}]})
    assert violation_detail(missing) == {
        "loc": ["body", "messages", 0, "role"],
        "msg": "'role' is a required property",
        "type": "missing",
    }
