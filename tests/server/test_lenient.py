"""The lenient and particular servers of issue 19 (server/_lenient.py), in the toy mode:
each switch does what it says and nothing else."""

from __future__ import annotations

import json

from conformance.server import ServerConfig
from tests.server.helpers import chat_body, request
from tests.server.test_model_mode import TOOLS


def chat(body, *defects: str):
    return request(ServerConfig(defects=frozenset(defects)), body)


def test_lenient_coercion_serves_a_numeric_string_and_a_custom_role():
    assert chat(chat_body(max_tokens="8")).status_code == 422
    assert chat(chat_body(max_tokens="8"), "lenient-coercion").status_code == 200
    wizard = chat_body(messages=[{"role": "wizard", "content": "hi"}])
    assert chat(wizard).status_code == 422
    assert chat(wizard, "lenient-coercion").status_code == 200
    # what cannot be coerced is still refused
    assert chat(chat_body(max_tokens="eight"), "lenient-coercion").status_code == 422


def test_tool_arguments_follow_the_parameters_only_under_strict():
    named = {"type": "function", "function": {"name": "get_weather"}}
    loose = chat(chat_body("Weather?", tools=TOOLS, tool_choice=named), "tool-arguments-loose")
    call = loose.json()["choices"][0]["message"]["tool_calls"][0]
    arguments = json.loads(call["function"]["arguments"])
    assert "city" not in arguments
    assert "city_loose" in arguments
    strict_tools = [{**TOOLS[0], "function": {**TOOLS[0]["function"], "strict": True}}, TOOLS[1]]
    strict = chat(
        chat_body("Weather?", tools=strict_tools, tool_choice=named), "tool-arguments-loose"
    )
    call = strict.json()["choices"][0]["message"]["tool_calls"][0]
    assert "city" in json.loads(call["function"]["arguments"])


def test_a_reasoning_model_refuses_max_tokens_and_sampling_parameters_as_openai_does():
    refused = chat(chat_body(max_tokens=8), "reasoning-model")
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
    assert chat(chat_body(max_completion_tokens=8), "reasoning-model").status_code == 200
    for field, value, code in (
        ("temperature", 0, "unsupported_value"),
        ("stop", ["x"], "unsupported_parameter"),
        ("logprobs", True, "unsupported_parameter"),
    ):
        answer = chat(chat_body(max_completion_tokens=8, **{field: value}), "reasoning-model")
        assert (answer.status_code, answer.json()["error"]["param"]) == (400, field)
        assert answer.json()["error"]["code"] == code
    assert chat(chat_body(temperature=1), "reasoning-model").status_code == 200  # the default


def test_a_tool_call_finishes_stop_on_the_toy_s_every_request():
    required = chat_body("Weather?", tools=TOOLS, tool_choice="required")
    assert chat(required).json()["choices"][0]["finish_reason"] == "tool_calls"
    answer = chat(required, "tool-finish-sometimes-stop").json()
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["choices"][0]["message"]["tool_calls"]
