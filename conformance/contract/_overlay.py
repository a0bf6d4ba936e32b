"""Read an OpenAPI Overlay 1.0 document and apply it to a parsed OpenAPI document.

The ``openai`` profile is the vendored document plus ``schemas/openai.overlay.yaml``: an
Overlay (https://spec.openapis.org/overlay/v1.0.0) whose actions each relax one erratum
written up in ``schemas/ERRATA.md`` and name it in an ``x-erratum`` extension.

Targets are RFC 9535 JSONPath queries, evaluated by ``jsonpath-rfc9535``. Actions run in
order on a copy of the document:

- ``update`` on an object merges recursively (objects merge key by key, arrays are
  appended to, anything else is replaced); on an array it appends the value as one entry.
- ``remove: true`` removes every selected node from the object or array holding it. Besides
  objects and arrays it also removes a single scalar, such as one name in a ``required``
  list (``required[?@ == 'role']``): an overlay has no other way to drop one name without
  restating the whole list, and restating it would hide a changed document.

A target that selects nothing means the document no longer looks as the overlay expects:
that is a ``SpecError`` naming the action, never a silent no-op.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpath_rfc9535
import yaml

from conformance._errors import SpecError

OVERLAY_FILENAME = "openai.overlay.yaml"
_VERSION = re.compile(r"^1\.0\.\d+$")
_ACTION_FIELDS = frozenset({"target", "description", "update", "remove"})
_TOP_FIELDS = frozenset({"overlay", "info", "extends", "actions"})
_ABSENT = object()


@dataclass(frozen=True)
class OverlayAction:
    """One action: where (``target``), and what (``update`` merged in, or ``remove``)."""

    number: int  # 1-based position in the file, as a reader counts
    target: str
    description: str
    update: Any
    remove: bool
    erratum: str | None  # the ``x-erratum`` extension: the ERRATA.md entry it relaxes
    query: jsonpath_rfc9535.JSONPathQuery

    @property
    def name(self) -> str:
        label = f"erratum {self.erratum!r}" if self.erratum else repr(self.description)
        return f"overlay action {self.number} ({label})"


@dataclass(frozen=True)
class Overlay:
    """A loaded overlay file: its metadata and its actions, in order."""

    path: Path
    title: str
    version: str
    actions: tuple[OverlayAction, ...]

    @property
    def errata(self) -> tuple[str, ...]:
        """The erratum ids the actions relax, each once, in file order."""
        return tuple(dict.fromkeys(a.erratum for a in self.actions if a.erratum))

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``document`` with every action applied; the argument is left alone."""
        result = copy.deepcopy(document)
        for action in self.actions:
            _apply(self.path, action, result)
        return result


def load_overlay(path: Path) -> Overlay:
    """Read and check an overlay file; anything wrong is a ``SpecError`` naming it."""
    try:
        data = yaml.safe_load(path.read_bytes())
    except FileNotFoundError:
        raise SpecError(
            f"overlay file {str(path)!r} does not exist; the openai profile needs it beside "
            f"the spec. Put {OVERLAY_FILENAME} there, or use --profile strict."
        ) from None
    except OSError as exc:
        raise SpecError(f"overlay file {str(path)!r} cannot be read: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        said = getattr(exc, "problem", None) or exc
        _broken(path, f"it is not valid YAML{where}: {said}")
    if not isinstance(data, dict):
        _broken(path, f"it holds {_kind(data)}, not a mapping with overlay, info, actions")
    unknown = sorted(str(k) for k in data if k not in _TOP_FIELDS and not str(k).startswith("x-"))
    if unknown:
        _broken(path, f"unknown top-level field {', '.join(map(repr, unknown))}")
    version = data.get("overlay")
    if not isinstance(version, str) or not _VERSION.match(version):
        _broken(path, f"'overlay' is {version!r}; it must be the version string '1.0.0'")
    info = data.get("info")
    if not (
        isinstance(info, dict)
        and isinstance(info.get("title"), str)
        and isinstance(info.get("version"), str)
    ):
        _broken(path, "'info' must be a mapping with string 'title' and 'version'")
    entries = data.get("actions")
    if not isinstance(entries, list) or not entries:
        _broken(path, "'actions' must be a non-empty list of action objects")
    actions = tuple(_action(path, n, entry) for n, entry in enumerate(entries, start=1))
    return Overlay(path=path, title=info["title"], version=info["version"], actions=actions)


def _action(path: Path, number: int, entry: Any) -> OverlayAction:
    where = f"action {number}"
    if not isinstance(entry, dict):
        _broken(path, f"{where} is {_kind(entry)}, not a mapping")
    unknown = sorted(
        str(k) for k in entry if k not in _ACTION_FIELDS and not str(k).startswith("x-")
    )
    if unknown:
        _broken(path, f"{where} has unknown field {', '.join(map(repr, unknown))}")
    target = entry.get("target")
    if not isinstance(target, str) or not target.startswith("$"):
        _broken(path, f"{where} needs a 'target': a JSONPath query starting with '$'")
    try:
        query = jsonpath_rfc9535.compile(target)
    except jsonpath_rfc9535.JSONPathError as exc:
        _broken(path, f"{where} target {target!r} is not RFC 9535 JSONPath: {exc}")
    remove = entry.get("remove", False)
    if not isinstance(remove, bool):
        _broken(path, f"{where} 'remove' is {remove!r}; it must be true or false")
    update = entry.get("update", _ABSENT)
    if not remove and update is _ABSENT:
        _broken(path, f"{where} does nothing: give it an 'update' value or 'remove: true'")
    description = entry.get("description", "")
    erratum = entry.get("x-erratum")
    if not isinstance(description, str) or not (erratum is None or isinstance(erratum, str)):
        _broken(path, f"{where} 'description' and 'x-erratum' must be strings")
    return OverlayAction(
        number=number,
        target=target,
        description=description,
        update=update,
        remove=remove,
        erratum=erratum,
        query=query,
    )


def _broken(path: Path, problem: str) -> Any:
    raise SpecError(
        f"overlay file {str(path)!r} is broken: {problem}. Fix it (it follows the OpenAPI "
        "Overlay Specification 1.0.0), or use --profile strict."
    )


def _apply(path: Path, action: OverlayAction, document: dict[str, Any]) -> None:
    nodes = action.query.find(document)
    if not nodes:
        raise SpecError(
            f"{action.name} no longer fits the document: its target {action.target!r} "
            "selects nothing. The document changed: review schemas/ERRATA.md and "
            f"{str(path)!r} against it, or use --profile strict."
        )
    if action.remove:
        # Deepest first and, inside one array, highest index first, so that removing one
        # node never moves another that is still to be removed.
        for location in sorted({node.location for node in nodes}, reverse=True):
            if not location:
                raise SpecError(f"{action.name} would remove the whole document; target a part.")
            parent = _at(document, location[:-1])
            del parent[location[-1]]
        return
    for node in nodes:
        if isinstance(node.value, dict):
            if not isinstance(action.update, dict):
                raise SpecError(
                    f"{action.name} selects an object at {node.path()}, so its 'update' must "
                    f"be a mapping to merge, not {_kind(action.update)}. Fix "
                    f"{str(path)!r}."
                )
            _merge(node.value, action.update)
        elif isinstance(node.value, list):
            node.value.append(copy.deepcopy(action.update))
        else:
            raise SpecError(
                f"{action.name} selects {_kind(node.value)} at {node.path()}; "
                f"'update' needs objects or arrays (use 'remove' and update the parent). "
                f"Fix {str(path)!r}."
            )


def _kind(value: Any) -> str:
    """A JSON value's kind, with its article, as a message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    for kind, name in ((dict, "an object"), (list, "an array"), (str, "a string")):
        if isinstance(value, kind):
            return name
    return "an integer" if isinstance(value, int) else "a number"


def _at(document: Any, location: tuple[int | str, ...]) -> Any:
    node = document
    for part in location:
        node = node[part]
    return node


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    """Overlay ``update`` semantics: recurse into objects, append to arrays, else replace."""
    for key, value in update.items():
        here = into.get(key, _ABSENT)
        if isinstance(here, dict) and isinstance(value, dict):
            _merge(here, value)
        elif isinstance(here, list) and isinstance(value, list):
            here.extend(copy.deepcopy(value))
        else:
            into[key] = copy.deepcopy(value)
