"""The vendored contract: provenance, drift, loading errors, profiles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conformance import Contract, SpecError
from conformance._spec import default_spec_path, load_errata, schemas_dir

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
        "profile 'lenient' is unknown. Use 'strict' (the document as written) or 'compat' "
        "(the document with the errata in schemas/errata.yaml applied)."
    )


def test_strict_profile_is_the_document_as_written():
    contract = Contract.load()
    assert contract.errata == ()
    chunk = contract.schema("ChatCompletionChunk")
    assert "system_fingerprint" in chunk["required"]
    assert contract.schema("ChatCompletionStreamResponseDelta")["required"] == ["role"]


def test_compat_profile_applies_every_patch_and_leaves_the_file_alone():
    before = default_spec_path().read_bytes()
    compat = Contract.load(profile="compat")
    assert default_spec_path().read_bytes() == before
    assert compat.sha256 == Contract.load().sha256  # the hash names the document, not the profile
    schemas = compat.document["components"]["schemas"]
    assert "service_tier" not in schemas["ChatCompletionResponse"]["required"]
    assert schemas["ChatCompletionChunk"]["required"] == [
        "id",
        "choices",
        "created",
        "model",
        "object",
    ]
    assert "required" not in schemas["ChatCompletionStreamResponseDelta"]
    assert {"type": "string"} in schemas["ChatCompletionRequest"]["properties"]["stop"]["anyOf"]
    delta_without_role = {"content": "hi"}
    assert compat.validator("ChatCompletionStreamResponseDelta").validate(delta_without_role) == []
    assert (
        Contract.load().validator("ChatCompletionStreamResponseDelta").validate(delta_without_role)
    )


def test_every_erratum_points_into_the_document_and_says_why():
    document = Contract.load().document
    for erratum in load_errata(schemas_dir() / "errata.yaml"):
        node = document
        for part in erratum.pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        assert erratum.says
        assert erratum.reality


def test_an_erratum_that_no_longer_fits_is_reported(tmp_path):
    text = (
        default_spec_path()
        .read_text()
        .replace(
            "        - system_fingerprint\n        - object\n        - usage\n",
            "        - object\n        - usage\n        - system_fingerprint\n",
        )
    )
    spec = tmp_path / "chat-completions.openapi.yaml"
    spec.write_text(text)
    (tmp_path / "errata.yaml").write_bytes((schemas_dir() / "errata.yaml").read_bytes())
    with pytest.raises(SpecError) as info:
        Contract.load(spec, profile="compat")
    assert str(info.value).startswith(
        "erratum 'chunk-system-fingerprint-and-usage-required' no longer fits the document ("
    )
    assert str(info.value).endswith(
        "The document changed: review schemas/errata.yaml against it, or use --profile strict."
    )
