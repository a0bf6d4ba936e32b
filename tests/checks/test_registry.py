"""The catalogue's shape: every check is complete, cites the document, and names real probes."""

from __future__ import annotations

import inspect

import pytest

from conformance.checks import get_check, registered_checks, registered_probes
from conformance.checks._catalogue import AREAS
from conformance.checks._model import Severity
from conformance.contract._spec import default_contract

DOCUMENT = default_contract("strict").document
CATALOGUE = {
    "success_status": ("http", Severity.MUST),
    "json_content_type": ("http", Severity.MUST),
    "stream_content_type": ("http", Severity.MUST),
    "gzip_decoded": ("http", Severity.MUST),
    "response_schema": ("envelope", Severity.MUST),
    "message_role_assistant": ("envelope", Severity.MUST),
    "chunk_envelope_stable": ("envelope", Severity.MUST),
    "chunk_created_stable": ("envelope", Severity.MUST),
    "stream_first_delta_role": ("envelope", Severity.MUST),
    "stream_finish_once": ("envelope", Severity.MUST),
    "stream_delta_identity_once": ("envelope", Severity.MUST),
    "tool_calls_not_empty": ("envelope", Severity.SHOULD),
    "chunk_schema": ("stream", Severity.MUST),
    "stream_done_terminator": ("stream", Severity.MUST),
    "stream_framing": ("stream", Severity.MUST),
    "stream_event_separation": ("stream", Severity.MUST),
    "usage_arithmetic": ("usage", Severity.MUST),
    "usage_cached_tokens": ("usage", Severity.MUST),
    "stream_usage_chunk": ("usage", Severity.MUST),
    "stream_usage_unrequested": ("usage", Severity.SHOULD),
    "usage_stream_matches": ("usage", Severity.MUST),
    "finish_reason_length": ("finish", Severity.MUST),
    "finish_reason_tool_calls": ("finish", Severity.MUST),
    "finish_reason_tool_calls_forced": ("finish", Severity.SHOULD),
    "max_tokens_honoured": ("sampling", Severity.MUST),
    "stop_honoured": ("sampling", Severity.MUST),
    "n_choices": ("sampling", Severity.MUST),
    "seed_accepted": ("sampling", Severity.MUST),
    "sampling_bounds_accepted": ("sampling", Severity.MUST),
    "optional_parameters_accepted": ("parameters", Severity.MUST),
    "auth_missing_key_rejected": ("auth", Severity.MUST),
    "auth_invalid_key_rejected": ("auth", Severity.MUST),
    "invalid_request_rejected": ("errors", Severity.MUST),
    "error_body_shape": ("errors", Severity.SHOULD),
    "unknown_model_rejected": ("errors", Severity.MUST),
    "recovers_after_invalid": ("errors", Severity.MUST),
    "non_json_body_rejected": ("errors", Severity.MUST),
    "tool_choice_required_calls": ("tools", Severity.MUST),
    "tool_choice_named_calls": ("tools", Severity.MUST),
    "tool_choice_none_no_calls": ("tools", Severity.MUST),
    "tool_call_shape": ("tools", Severity.MUST),
    "tool_call_arguments": ("tools", Severity.MUST),
    "tool_call_stream_deltas": ("tools", Severity.MUST),
    "tool_call_stream_parallel": ("tools", Severity.MUST),
    "tool_call_stream_matches": ("tools", Severity.SHOULD),
    "tool_round_trip_accepted": ("tools", Severity.MUST),
    "json_object_content": ("response_format", Severity.MUST),
    "json_schema_content": ("response_format", Severity.MUST),
    "logprobs_present": ("logprobs", Severity.MUST),
    "logprob_values": ("logprobs", Severity.MUST),
    "top_logprobs_ranked": ("logprobs", Severity.MUST),
    "logprobs_bytes": ("logprobs", Severity.MUST),
    "logprobs_absent_when_off": ("logprobs", Severity.MUST),
    "message_roles_accepted": ("messages", Severity.MUST),
    "message_content_parts_accepted": ("messages", Severity.MUST),
    "message_name_accepted": ("messages", Severity.MUST),
    "unknown_fields_accepted": ("messages", Severity.SHOULD),
    "unknown_fields_no_server_error": ("messages", Severity.MUST),
    "reasoning_effort_accepted": ("reasoning", Severity.MUST),
    "reasoning_content_deltas": ("reasoning", Severity.MUST),
    "reasoning_not_in_content": ("reasoning", Severity.SHOULD),
    # Issue 19: what a stream says.
    "stream_stop_honoured": ("stream", Severity.MUST),
    "stream_text_intact": ("stream", Severity.MUST),
    "logprobs_spell_content": ("logprobs", Severity.MUST),
    "client_reads_exchange": ("clients", Severity.SHOULD),
}


def walk(pointer):
    """Follow a ``#/a/b`` pointer (RFC 6901 escapes) through the document; KeyError if absent."""
    assert pointer.startswith("#/"), pointer
    node = DOCUMENT
    for escaped in pointer[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_the_catalogue_holds_exactly_the_first_checks_with_their_area_and_severity():
    assert {c.id: (c.area, c.severity) for c in registered_checks()} == CATALOGUE


def test_checks_are_listed_area_by_area_in_catalogue_order():
    areas = [c.area for c in registered_checks()]
    assert list(dict.fromkeys(areas)) == list(AREAS)
    assert areas == sorted(areas, key=AREAS.index)


@pytest.mark.parametrize("check", registered_checks(), ids=lambda c: c.id)
def test_every_check_is_complete(check):
    assert check.id == check.func.__name__
    assert get_check(check.id) is check
    assert check.title
    assert check.title == inspect.getdoc(check.func).splitlines()[0].rstrip(".")
    assert len(check.description.splitlines()) > 2, "a docstring body says why the rule holds"
    # client_reads_exchange has no probe of its own: it reads every answer of the run.
    assert check.probes or check.id == "client_reads_exchange"
    assert set(check.probes) <= {p.id for p in registered_probes()}
    assert inspect.getmodule(check.func).__name__ == f"conformance.checks.{check.area}"


@pytest.mark.parametrize("check", registered_checks(), ids=lambda c: c.id)
def test_every_spec_pointer_resolves_in_the_document(check):
    assert isinstance(walk(check.spec), dict)


def test_walk_rejects_a_pointer_that_is_not_in_the_document():
    with pytest.raises(KeyError):
        walk("#/components/schemas/NoSuchSchema")


def test_every_probe_is_judged_by_some_check():
    used = {p for c in registered_checks() for p in c.probes}
    assert used == {p.id for p in registered_probes()}


def test_an_unknown_check_id_names_the_known_ones():
    with pytest.raises(KeyError) as err:
        get_check("no_such_check")
    assert err.value.args[0] == (
        "no check with id 'no_such_check'; known: " + ", ".join(sorted(CATALOGUE))
    )
