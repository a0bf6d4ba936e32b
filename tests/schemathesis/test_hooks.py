"""The extension's hooks on the copy of the document schemathesis loads, and on its cases."""

from __future__ import annotations

import copy
import re
from types import SimpleNamespace

import pytest

from conformance.contract._spec import Contract
from conformance.contrib.schemathesis import map_case, relax

STRICT = Contract.load(profile="strict").document


def _responses(document: dict) -> dict:
    return document["paths"]["/v1/chat/completions"]["post"]["responses"]


def test_strict_leaves_the_document_as_written():
    document = copy.deepcopy(STRICT)
    relax(document, "strict")
    assert document == STRICT


def test_openai_applies_the_overlay_and_declares_streams_and_errors():
    document = copy.deepcopy(STRICT)
    relax(document, "openai")
    assert "role" not in document["components"]["schemas"]["ChatCompletionStreamResponseDelta"].get(
        "required", []
    )
    responses = _responses(document)
    assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
    assert set(responses["4XX"]["content"]) == {"application/json"}
    assert _responses(STRICT).keys() == {"200", "422"}  # the loaded copy only


def test_openai_refuses_another_document():
    document = copy.deepcopy(STRICT)
    document["info"]["title"] = "another API"
    message = (
        "CONFORMANCE_PROFILE=openai applies to the vendored chat-completions document only; "
        "load schemas/chat-completions.openapi.yaml, or set CONFORMANCE_PROFILE=strict for "
        "another document"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        relax(document, "openai")


def _case(body):
    return SimpleNamespace(body=body)


def test_a_valid_request_is_fitted_to_what_a_conforming_endpoint_serves(monkeypatch):
    monkeypatch.setenv("CONFORMANCE_MODEL", "served-model")
    monkeypatch.delenv("CONFORMANCE_PROFILE", raising=False)
    body = {
        "model": "drawn",
        "messages": [{"role": "user", "content": "hi"}],
        "top_logprobs": 10**20,
        "n": 7,
    }
    fitted = map_case(None, _case(body)).body
    assert fitted["model"] == "served-model"
    assert fitted["logprobs"] is True
    assert fitted["top_logprobs"] == 5
    assert fitted["n"] == 2
    assert fitted["max_tokens"] == 16


def test_an_invalid_request_is_left_as_drawn(monkeypatch):
    monkeypatch.setenv("CONFORMANCE_MODEL", "served-model")
    body = {"model": "drawn", "messages": [], "n": 0}
    assert map_case(None, _case(body)).body == {"model": "drawn", "messages": [], "n": 0}
