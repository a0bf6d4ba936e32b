"""The vendored contract: provenance, drift, loading errors, profiles."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from conformance import Contract, SpecError
from conformance.contract._overlay import load_overlay
from conformance.contract._spec import PROFILES, default_spec_path, schemas_dir
from conformance.contract._validation import resolve_pointer

ROOT = Path(__file__).resolve().parents[2]
SOURCE = json.loads((ROOT / "schemas" / "chat-completions.openapi.source.json").read_text())
SEED = ROOT.parent / "shared" / "seeds" / "000_5ad7824d2a1f87f0.txt"
FENCE = "````yaml https://api.tokenfactory.nebius.com/openapi.json post /v1/chat/completions\n"


def test_vendored_document_matches_its_recorded_sha256():
    raw = default_spec_path().read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SOURCE["sha256"]
    assert Contract.load().sha256 == SOURCE["sha256"]


def test_provenance_names_the_source_url_from_the_seed():
    assert SOURCE["source_url"] == "https://api.tokenfactory.nebius.com/openapi.json"
    assert FENCE.split()[1] == SOURCE["source_url"]


@pytest.mark.skipif(not SEED.exists(), reason="the seed is only present beside a checkout")
def test_vendored_document_is_the_seed_block_byte_for_byte():
    seed = SEED.read_bytes()
    assert hashlib.sha256(seed).hexdigest() == SOURCE["seed_sha256"]
    start = seed.index(FENCE.encode()) + len(FENCE)
    end = seed.index(b"\n````", start) + 1
    assert seed[start:end] == default_spec_path().read_bytes()


def test_loaded_contract_exposes_title_version_and_the_schemas_we_use():
    contract = Contract.load()
    assert contract.title == "Nebius OpenAI-compatible inference API"
    assert contract.version == "20260506-297d05704"
    for name in (
        "ChatCompletionRequest",
        "ChatCompletionResponse",
        "ChatCompletionChunk",
        "HTTPValidationError",
        "Usage",
    ):
        assert name in contract.schema_names
    assert contract.validator("Usage") is contract.validator("Usage")  # built once


def test_unknown_schema_name_lists_the_known_ones():
    with pytest.raises(SpecError) as info:
        Contract.load().validator("ChatCompletion")
    message = str(info.value)
    assert message.startswith(
        "schema name 'ChatCompletion' is not in the document's components.schemas. "
        "Use one of: ChatCompletionChoice, ChatCompletionChunk,"
    )


def test_missing_spec_file_says_what_to_do(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as info:
        Contract.load(missing)
    assert str(info.value) == (
        f"spec file {str(missing)!r} does not exist. Pass the path of an OpenAPI 3.1 "
        "document with --spec, or leave --spec out to use the vendored contract."
    )


def test_broken_yaml_names_the_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.1.0\ninfo: [unclosed\n")
    with pytest.raises(SpecError) as info:
        Contract.load(broken)
    assert str(info.value).startswith(
        f"spec file {str(broken)!r} is not valid YAML or JSON at line"
    )


def test_invalid_openapi_document_is_refused_with_the_place(tmp_path):
    text = (
        default_spec_path()
        .read_text()
        .replace("openapi: 3.1.0\ninfo:\n", "openapi: 3.1.0\ninfox:\n")
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(SpecError) as info:
        Contract.load(bad)
    assert str(info.value) == (
        f'spec file {str(bad)!r} is not valid OpenAPI 3.1: at (root): "info" is a required '
        "property (and 1 more). Fix the document or restore the vendored copy."
    )


def test_openapi_30_document_is_refused(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\n")
    with pytest.raises(SpecError) as info:
        Contract.load(old)
    assert str(info.value) == (
        f"spec file {str(old)!r} declares openapi '3.0.3'; conformance reads OpenAPI 3.1 "
        "documents only."
    )


def test_document_without_the_chat_operation_is_refused(tmp_path):
    doc = tmp_path / "other.yaml"
    doc.write_text("openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: {}\n")
    with pytest.raises(SpecError) as info:
        Contract.load(doc)
    assert str(info.value) == (
        f"spec file {str(doc)!r} has no 'post' operation at '/v1/chat/completions'; "
        "conformance tests that operation."
    )


def test_unknown_profile_is_refused():
    with pytest.raises(SpecError) as info:
        Contract.load(profile="lenient")
    assert str(info.value) == (
        "profile 'lenient' is unknown. Use 'strict' (the document as written) or 'openai' "
        "(the document with schemas/openai.overlay.yaml applied, see schemas/ERRATA.md)."
    )


def test_compat_is_no_longer_a_profile():
    assert PROFILES == ("strict", "openai")
    with pytest.raises(SpecError, match=r"^profile 'compat' is unknown\."):
        Contract.load(profile="compat")


def test_strict_profile_is_the_document_as_written():
    contract = Contract.load()
    assert contract.overlay is None
    assert contract.document == yaml.safe_load(default_spec_path().read_bytes())
    chunk = contract.schema("ChatCompletionChunk")
    assert "system_fingerprint" in chunk["required"]
    assert contract.schema("ChatCompletionStreamResponseDelta")["required"] == ["role"]


def test_openai_profile_applies_every_action_and_leaves_the_file_alone():
    before = default_spec_path().read_bytes()
    openai = Contract.load(profile="openai")
    assert default_spec_path().read_bytes() == before
    assert openai.sha256 == Contract.load().sha256  # the hash names the document, not the profile
    assert openai.overlay is not None
    assert openai.overlay.path == schemas_dir() / "openai.overlay.yaml"
    schemas = openai.document["components"]["schemas"]
    assert schemas["ChatCompletionResponse"]["required"] == [
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
    ]
    assert schemas["ChatCompletionChunk"]["required"] == [
        "id",
        "choices",
        "created",
        "model",
        "object",
    ]
    assert schemas["ChatCompletionStreamResponseDelta"]["required"] == []
    assert schemas["ChatCompletionChoice"]["required"] == ["index", "message", "finish_reason"]
    # issue 19: finish_reason may be left out of a streamed choice until its last chunk
    assert schemas["ChatCompletionStreamChoice"]["required"] == ["index", "delta"]
    assert schemas["FunctionCall"]["required"] == []
    assert schemas["ToolCall"]["required"] == []
    assert schemas["ChatCompletionResponse"]["properties"]["service_tier"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/ServiceTier"},
            {"type": "null"},
            {"type": "string"},  # issue 19: a provider's own tier (Groq's on_demand)
        ],
        "description": "The service tier used for the request.",
    }
    assert "extra_body" not in schemas["ChatCompletionRequest"]["properties"]
    assert openai.document["info"]["x-conformance-relaxes"] == [
        "chunk-created-may-change",
        "sse-unknown-fields-ignored",
    ]
    assert openai.relaxes("chunk-created-may-change")
    assert not Contract.load().relaxes("chunk-created-may-change")
    assert schemas["ChatCompletionChunk"]["properties"]["system_fingerprint"]["type"] == [
        "string",
        "null",
    ]
    assert schemas["ChatCompletionRequest"]["properties"]["stop"]["anyOf"] == [
        {"items": {"type": "string"}, "type": "array"},
        {"type": "null"},
        {"type": "string"},
    ]
    # Nothing else moved: undo the actions by hand and the strict document is back.
    restored = copy.deepcopy(openai.document)
    rs = restored["components"]["schemas"]
    rs["ChatCompletionResponse"]["required"].append("service_tier")
    rs["ChatCompletionChunk"]["required"][4:4] = ["system_fingerprint"]
    rs["ChatCompletionChunk"]["required"].append("usage")
    rs["ChatCompletionStreamResponseDelta"]["required"] = ["role"]
    rs["ChatCompletionChoice"]["required"].append("logprobs")
    rs["ChatCompletionStreamChoice"]["required"][2:2] = ["finish_reason"]
    rs["ChatCompletionStreamChoice"]["required"].append("logprobs")
    rs["FunctionCall"]["required"] = ["name", "arguments"]
    rs["ToolCall"]["required"] = ["function"]
    rs["ChatCompletionRequest"]["properties"]["stop"]["anyOf"].pop()
    tier = rs["ChatCompletionResponse"]["properties"]["service_tier"]
    tier["allOf"] = tier.pop("anyOf")[:1]
    strict_request = Contract.load().document["components"]["schemas"]["ChatCompletionRequest"]
    rs["ChatCompletionRequest"]["properties"]["extra_body"] = strict_request["properties"][
        "extra_body"
    ]
    del restored["info"]["x-conformance-relaxes"]
    rs["ChatCompletionChunk"]["properties"]["system_fingerprint"]["type"] = "string"
    assert restored == Contract.load().document


def test_each_relaxation_shows_in_validation():
    strict, openai = Contract.load(), Contract.load(profile="openai")
    cases = [  # (schema, instance, what the strict document requires of it: path, field)
        ("ChatCompletionStreamResponseDelta", {"content": "hi"}, [("$", "role")]),
        ("FunctionCall", {"arguments": '{"a'}, [("$", "name")]),
        ("ToolCall", {"index": 0, "function": {"arguments": "1}"}}, [("$.function", "name")]),
        (
            "ChatCompletionStreamChoice",
            {"index": 0, "delta": {}, "finish_reason": None},
            [("$", "logprobs"), ("$.delta", "role")],
        ),
    ]
    for name, instance, required in cases:
        assert openai.validator(name).validate(instance) == [], name
        violations = strict.validator(name).validate(instance)
        assert [(v.json_path, v.keyword, v.expected) for v in violations] == [
            (path, "required", {"required": field}) for path, field in required
        ], name


def test_null_service_tier_and_system_fingerprint_pass_only_under_the_openai_profile():
    strict, openai = Contract.load(), Contract.load(profile="openai")
    response = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        "service_tier": None, "system_fingerprint": None,
    }  # fmt: skip
    chunk = {
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [], "usage": None, "system_fingerprint": None,
    }  # fmt: skip
    for name, instance, path in (
        ("ChatCompletionResponse", response, "$.service_tier"),
        ("ChatCompletionChunk", chunk, "$.system_fingerprint"),
    ):
        assert openai.validator(name).validate(instance) == [], name
        assert {v.json_path for v in strict.validator(name).validate(instance)} == {path}
    # issue 19: a provider's own tier name is any string under openai; strict still refuses
    own = {**response, "service_tier": "on_demand"}
    assert openai.validator("ChatCompletionResponse").validate(own) == []
    assert {v.json_path for v in strict.validator("ChatCompletionResponse").validate(own)} == {
        "$.service_tier"
    }
    wrong = openai.validator("ChatCompletionResponse").validate({**response, "service_tier": 7})
    assert {v.json_path for v in wrong} == {"$.service_tier"}  # a tier is still a string


def _errata_entries() -> dict[str, str]:
    """ERRATA.md's entries: id -> the text of its **Overlay:** line."""
    text = (schemas_dir() / "ERRATA.md").read_text()
    entries: dict[str, str] = {}
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading, _, body = block.partition("\n")
        match = re.search(r"^- \*\*Overlay:\*\* (.*)$", body, flags=re.MULTILINE)
        assert match, f"ERRATA.md entry {heading} has no **Overlay:** line"
        entries[heading.strip().strip("`")] = match.group(1)
    return entries


def test_errata_md_and_the_overlay_list_the_same_relaxations():
    entries = _errata_entries()
    relaxed = {k for k, v in entries.items() if v.startswith("relaxed")}
    left = {k for k, v in entries.items() if v.startswith("not relaxed: ")}
    assert relaxed | left == set(entries)  # every entry says one or the other
    overlay = load_overlay(schemas_dir() / "openai.overlay.yaml")
    assert all(action.erratum for action in overlay.actions)
    assert set(overlay.errata) == relaxed
    assert relaxed == {
        "response-service-tier-required",
        "chunk-system-fingerprint-and-usage-required",
        "delta-role-required",
        "choice-logprobs-required",
        "stream-choice-logprobs-required",
        "streamed-tool-call-fragments",
        "stop-as-string",
        "service-tier-and-system-fingerprint-null",
        # issue 19: harmless quirks of real providers
        "service-tier-values",
        "stream-choice-finish-reason-required",
        "extra-body-is-an-sdk-argument",
        "chunk-created-changes",
        "sse-unknown-fields",
    }
    # the ones the issue names, and the ones carried over from the old errata.yaml
    assert {
        "response-example-is-a-text-completion",
        "response-format-description",
        "only-422-documented",
        "undeclared-request-fields",
    } <= left


def test_every_erratum_points_into_the_document_and_says_why():
    document = Contract.load().document
    text = (schemas_dir() / "ERRATA.md").read_text()
    pointers = re.findall(r"^- \*\*Where:\*\* `([^`]+)`$", text, flags=re.MULTILINE)
    assert len(pointers) == len(_errata_entries())
    for pointer in pointers:
        resolve_pointer(document, pointer)  # KeyError when the document has no such node
    for field in ("The document says", "OpenAI and clients"):
        assert text.count(f"- **{field}:** ") == len(pointers)


def _copy_spec_and_overlay(tmp_path: Path, spec_text: str, overlay_text: str | None = None) -> Path:
    spec = tmp_path / "chat-completions.openapi.yaml"
    spec.write_text(spec_text)
    overlay = (schemas_dir() / "openai.overlay.yaml").read_text()
    (tmp_path / "openai.overlay.yaml").write_text(overlay if overlay_text is None else overlay_text)
    return spec


def test_an_action_that_no_longer_fits_the_document_is_refused(tmp_path):
    text = default_spec_path().read_text()
    drifted = text.replace("        - system_fingerprint\n        - object\n", "        - object\n")
    assert drifted != text
    spec = _copy_spec_and_overlay(tmp_path, drifted)
    with pytest.raises(SpecError) as info:
        Contract.load(spec, profile="openai")
    overlay = str(tmp_path / "openai.overlay.yaml")
    assert str(info.value) == (
        "overlay action 2 (erratum 'chunk-system-fingerprint-and-usage-required') no longer fits "
        'the document: its target "$.components.schemas.ChatCompletionChunk.required[?@ == '
        "'system_fingerprint']\" selects nothing. The document changed: review "
        f"schemas/ERRATA.md and {overlay!r} against it, or use --profile strict."
    )
    assert Contract.load(spec).profile == "strict"  # the strict profile needs no overlay


def test_a_broken_overlay_file_is_refused(tmp_path):
    spec = _copy_spec_and_overlay(tmp_path, default_spec_path().read_text(), "overlay: [1\n")
    overlay = str(tmp_path / "openai.overlay.yaml")
    with pytest.raises(SpecError) as info:
        Contract.load(spec, profile="openai")
    assert str(info.value) == (
        f"overlay file {overlay!r} is broken: it is not valid YAML at line 2, column 1: "
        "expected ',' or ']', but got '<stream end>'. Fix it (it follows the OpenAPI Overlay "
        "Specification 1.0.0), or use --profile strict."
    )


def test_a_missing_overlay_file_is_refused(tmp_path):
    spec = tmp_path / "chat-completions.openapi.yaml"
    spec.write_bytes(default_spec_path().read_bytes())
    overlay = str(tmp_path / "openai.overlay.yaml")
    with pytest.raises(SpecError) as info:
        Contract.load(spec, profile="openai")
    assert str(info.value) == (
        f"overlay file {overlay!r} does not exist; the openai profile needs it beside the spec. "
        "Put openai.overlay.yaml there, or use --profile strict."
    )


def test_an_overlay_that_breaks_the_document_is_refused(tmp_path):
    overlay_text = (
        "overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions:\n"
        "  - target: $.components.schemas.ChatCompletionChunk\n"
        "    update: {type: 7}\n"
    )
    spec = _copy_spec_and_overlay(tmp_path, default_spec_path().read_text(), overlay_text)
    with pytest.raises(SpecError) as info:
        Contract.load(spec, profile="openai")
    overlay = str(tmp_path / "openai.overlay.yaml")
    assert str(info.value) == (
        f"spec file {str(spec)!r} with overlay {overlay!r} is not valid OpenAPI 3.1: at type: "
        "7 is not valid under any of the given schemas. Fix the overlay, or use --profile strict."
    )


FIX = (
    "Pass the path of an OpenAPI 3.1 document with --spec, or leave --spec out to use the "
    "vendored contract."
)


def test_a_spec_that_is_a_device_is_refused_before_it_is_read():
    with pytest.raises(SpecError) as caught:
        Contract.load("/dev/zero")
    assert str(caught.value) == (
        "spec file '/dev/zero' is not a regular file (a device, a pipe or a directory?). " + FIX
    )


def test_a_spec_over_the_size_cap_is_refused(tmp_path):
    import conformance.contract._yamlfile as yamlfile

    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (yamlfile.MAX_YAML_BYTES + 1))
    with pytest.raises(SpecError) as caught:
        Contract.load(path)
    assert str(caught.value) == (
        f"spec file '{path}' is larger than 16 MiB; that is no spec or baseline. " + FIX
    )


def test_billion_laughs_is_refused_at_its_first_alias(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text('a: &a ["lol","lol"]\nb: &b [*a,*a]\nc: [*b,*b]\n')
    with pytest.raises(SpecError) as caught:
        Contract.load(path)
    assert str(caught.value) == (
        f"spec file '{path}' uses a YAML alias (*a) at line 2; aliases are refused (they can "
        "expand a small file without bound): write the value out in full. Fix the file."
    )


def test_a_spec_nested_100k_deep_is_one_message(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("openapi: 3.1.0\nx: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(SpecError) as caught:
        Contract.load(path)
    assert str(caught.value) == f"spec file '{path}' is nested too deeply to read. Fix the file."


def test_a_ref_cycle_is_named(tmp_path):
    document = yaml.safe_load(Contract.load().raw)
    schemas = document["components"]["schemas"]
    schemas["LoopA"] = {"$ref": "#/components/schemas/LoopB"}
    schemas["LoopB"] = {"$ref": "#/components/schemas/LoopA"}
    schemas["ChatCompletionRequest"]["properties"]["loop"] = {"$ref": "#/components/schemas/LoopA"}
    path = tmp_path / "cycle.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SpecError) as caught:
        Contract.load(path)
    assert str(caught.value) == (
        f"spec file '{path}' has a $ref cycle: LoopA -> LoopB -> LoopA. Each schema in it is "
        "only a reference to the next, so none says anything; fix the file."
    )
