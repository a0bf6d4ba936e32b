"""The OpenAPI Overlay 1.0 reader and applier behind the openai profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance import SpecError
from conformance.contract._overlay import Overlay, load_overlay

HEAD = "overlay: 1.0.0\ninfo: {title: t, version: '1'}\n"
DOC: dict[str, Any] = {
    "a": {"required": ["x", "y", "z"], "n": 1, "tags": ["t1"], "deep": {"k": {"v": 1}}},
    "list": [{"name": "keep"}, {"name": "drop"}, {"name": "drop"}],
}


def overlay(tmp_path: Path, actions: str, head: str = HEAD) -> Overlay:
    path = tmp_path / "o.yaml"
    path.write_text(head + "actions:\n" + actions)
    return load_overlay(path)


def refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "o.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_overlay(path)
    return str(info.value)


def test_update_merges_objects_recursively_appends_to_arrays_and_replaces_scalars(tmp_path):
    o = overlay(
        tmp_path,
        "  - target: $.a\n    update: {n: 2, tags: [t2], deep: {k: {w: 2}}, new: {b: 1}}\n",
    )
    result = o.apply(DOC)
    assert result["a"] == {
        "required": ["x", "y", "z"],
        "n": 2,
        "tags": ["t1", "t2"],
        "deep": {"k": {"v": 1, "w": 2}},
        "new": {"b": 1},
    }
    assert DOC["a"]["tags"] == ["t1"]  # the argument is left alone


def test_update_on_an_array_appends_the_value_as_one_entry(tmp_path):
    o = overlay(tmp_path, "  - target: $.a.tags\n    update: [t2, t3]\n")
    assert o.apply(DOC)["a"]["tags"] == ["t1", ["t2", "t3"]]


def test_remove_takes_out_every_selected_node_including_scalars(tmp_path):
    o = overlay(
        tmp_path,
        "  - target: $.a.required[?@ == 'x' || @ == 'z']\n    remove: true\n"
        "  - target: $.list[?@.name == 'drop']\n    remove: true\n"
        "  - target: $.a.deep\n    remove: true\n",
    )
    result = o.apply(DOC)
    assert result["a"] == {"required": ["y"], "n": 1, "tags": ["t1"]}
    assert result["list"] == [{"name": "keep"}]


def test_actions_apply_in_order(tmp_path):
    o = overlay(
        tmp_path,
        "  - target: $.a\n    update: {n: {was: 1}}\n  - target: $.a.n\n    update: {now: 2}\n",
    )
    assert o.apply(DOC)["a"]["n"] == {"was": 1, "now": 2}


def test_a_target_that_selects_nothing_names_the_action(tmp_path):
    o = overlay(
        tmp_path,
        "  - target: $.a\n    update: {n: 3}\n"
        "  - target: $.a.required[?@ == 'gone']\n    remove: true\n    x-erratum: gone-erratum\n",
    )
    with pytest.raises(SpecError) as info:
        o.apply(DOC)
    assert str(info.value) == (
        "overlay action 2 (erratum 'gone-erratum') no longer fits the document: its target "
        "\"$.a.required[?@ == 'gone']\" selects nothing. The document changed: review "
        f"schemas/ERRATA.md and {str(tmp_path / 'o.yaml')!r} against it, or use --profile strict."
    )


def test_an_action_without_erratum_is_named_by_its_description(tmp_path):
    o = overlay(tmp_path, "  - target: $.nope\n    description: Add it\n    update: {}\n")
    with pytest.raises(SpecError, match=r"^overlay action 1 \('Add it'\) no longer fits"):
        o.apply(DOC)


def test_update_of_a_scalar_is_refused(tmp_path):
    o = overlay(tmp_path, "  - target: $.a.n\n    update: 5\n")
    with pytest.raises(SpecError) as info:
        o.apply(DOC)
    assert str(info.value) == (
        "overlay action 1 ('') selects an integer at $['a']['n']; 'update' needs objects or arrays "
        f"(use 'remove' and update the parent). Fix {str(tmp_path / 'o.yaml')!r}."
    )


def test_update_of_an_object_with_a_scalar_is_refused(tmp_path):
    o = overlay(tmp_path, "  - target: $.a\n    update: 5\n")
    with pytest.raises(SpecError) as info:
        o.apply(DOC)
    assert str(info.value) == (
        "overlay action 1 ('') selects an object at $['a'], so its 'update' must be a mapping "
        f"to merge, not an integer. Fix {str(tmp_path / 'o.yaml')!r}."
    )


def test_removing_the_whole_document_is_refused(tmp_path):
    o = overlay(tmp_path, "  - target: $\n    remove: true\n")
    with pytest.raises(SpecError) as info:
        o.apply(DOC)
    assert str(info.value) == (
        "overlay action 1 ('') would remove the whole document; target a part."
    )


FIX = ". Fix it (it follows the OpenAPI Overlay Specification 1.0.0), or use --profile strict."


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]\n", "it holds an array, not a mapping with overlay, info, actions"),
        (
            "overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions: []\nextra: 1\n",
            "unknown top-level field 'extra'",
        ),
        (
            "overlay: 2.0.0\ninfo: {title: t, version: '1'}\nactions: []\n",
            "'overlay' is '2.0.0'; it must be the version string '1.0.0'",
        ),
        (
            "overlay: 1.0.0\ninfo: {title: t}\nactions: []\n",
            "'info' must be a mapping with string 'title' and 'version'",
        ),
        (HEAD + "actions: []\n", "'actions' must be a non-empty list of action objects"),
        (HEAD + "actions: [7]\n", "action 1 is an integer, not a mapping"),
        (
            HEAD + "actions:\n  - {target: $.a, remove: true, merge: 1}\n",
            "action 1 has unknown field 'merge'",
        ),
        (
            HEAD + "actions:\n  - {update: {}}\n",
            "action 1 needs a 'target': a JSONPath query starting with '$'",
        ),
        (
            HEAD + "actions:\n  - {target: '$.a[?@ ==]', remove: true}\n",
            "action 1 target '$.a[?@ ==]' is not RFC 9535 JSONPath: ",
        ),
        (
            HEAD + "actions:\n  - {target: $.a, remove: 'yes'}\n",
            "action 1 'remove' is 'yes'; it must be true or false",
        ),
        (
            HEAD + "actions:\n  - {target: $.a, description: nothing}\n",
            "action 1 does nothing: give it an 'update' value or 'remove: true'",
        ),
        (
            HEAD + "actions:\n  - {target: $.a, remove: true, x-erratum: 3}\n",
            "action 1 'description' and 'x-erratum' must be strings",
        ),
    ],
)
def test_a_broken_overlay_file_is_refused_with_what_is_wrong(tmp_path, text, problem):
    message = refused(tmp_path, text)
    start = f"overlay file {str(tmp_path / 'o.yaml')!r} is broken: {problem}"
    assert message.startswith(start)
    assert message.endswith(FIX)
    if not problem.endswith(": "):  # the JSONPath library words its own syntax errors
        assert message == start + FIX


def test_extensions_and_extends_are_accepted(tmp_path):
    o = overlay(
        tmp_path,
        "  - {target: $.a, remove: true, x-note: fine}\n",
        head=HEAD + "extends: chat-completions.openapi.yaml\nx-owner: us\n",
    )
    assert o.title == "t"
    assert o.version == "1"
    assert [a.target for a in o.actions] == ["$.a"]
    assert "a" not in o.apply(DOC)
