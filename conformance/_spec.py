"""Load the OpenAPI contract, check it is valid OpenAPI 3.1, and hand out validators.

The vendored document is the single source of truth. The ``compat`` profile applies the
JSON patches listed in ``errata.yaml`` beside it; the ``strict`` profile applies none.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

from conformance._errors import SpecError
from conformance._validation import SchemaValidator

CHAT_PATH = "/v1/chat/completions"
PROFILES = ("strict", "compat")
SPEC_FILENAME = "chat-completions.openapi.yaml"
ERRATA_FILENAME = "errata.yaml"


def schemas_dir() -> Path:
    """Where the vendored documents live: inside the wheel, or ``schemas/`` in a checkout."""
    packaged = Path(__file__).parent / "_schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


def default_spec_path() -> Path:
    return schemas_dir() / SPEC_FILENAME


@dataclass(frozen=True)
class Erratum:
    """A place where the document is wrong or stricter than clients rely on."""

    id: str
    pointer: str
    says: str
    reality: str
    patch: tuple[dict[str, Any], ...]


class Contract:
    """The loaded contract: the document, its hash, the profile in force, and validators."""

    def __init__(
        self,
        *,
        path: Path,
        raw: bytes,
        document: dict[str, Any],
        profile: str,
        errata: tuple[Erratum, ...],
    ) -> None:
        self.path = path
        self.raw = raw
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.document = document
        self.profile = profile
        self.errata = errata  # the errata applied (none under the strict profile)
        self._components: dict[str, Any] = document["components"]["schemas"]
        self._validators: dict[str, SchemaValidator] = {}

    @property
    def title(self) -> str:
        return str(self.document["info"].get("title", ""))

    @property
    def version(self) -> str:
        return str(self.document["info"].get("version", ""))

    @property
    def schema_names(self) -> list[str]:
        return sorted(self._components)

    def schema(self, name: str) -> dict[str, Any]:
        """The component schema ``name`` as it stands in the (profiled) document."""
        self._require(name)
        return dict(self._components[name])

    def components(self) -> dict[str, Any]:
        return self._components

    def validator(self, name: str) -> SchemaValidator:
        """A compiled validator for ``#/components/schemas/<name>``, built once."""
        self._require(name)
        found = self._validators.get(name)
        if found is None:
            found = SchemaValidator(name, self._components)
            self._validators[name] = found
        return found

    def _require(self, name: str) -> None:
        if name not in self._components:
            known = ", ".join(self.schema_names)
            raise SpecError(
                f"schema name {name!r} is not in the document's components.schemas. "
                f"Use one of: {known}."
            )

    @classmethod
    def load(cls, path: str | Path | None = None, *, profile: str = "strict") -> Contract:
        """Read, check and profile a document. Raises ``SpecError`` with a fix on bad input."""
        if profile not in PROFILES:
            raise SpecError(
                f"profile {profile!r} is unknown. Use 'strict' (the document as written) "
                "or 'compat' (the document with the errata in schemas/errata.yaml applied)."
            )
        spec_path = Path(path) if path is not None else default_spec_path()
        raw = _read(spec_path)
        document = _parse(spec_path, raw)
        _check_openapi(spec_path, document)
        errata = load_errata(spec_path.parent / ERRATA_FILENAME) if profile == "compat" else ()
        if errata:
            document = _apply_errata(document, errata)
        return cls(path=spec_path, raw=raw, document=document, profile=profile, errata=errata)


@functools.cache
def default_contract(profile: str = "strict") -> Contract:
    """The vendored contract, loaded once per process and profile."""
    return Contract.load(profile=profile)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SpecError(
            f"spec file {str(path)!r} does not exist. Pass the path of an OpenAPI 3.1 "
            "document with --spec, or leave --spec out to use the vendored contract."
        ) from None
    except OSError as exc:
        raise SpecError(f"spec file {str(path)!r} cannot be read: {exc.strerror}.") from None


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        raise SpecError(
            f"spec file {str(path)!r} is not valid YAML or JSON{where}: "
            f"{getattr(exc, 'problem', None) or exc}. Fix the file or restore the vendored copy."
        ) from None
    if not isinstance(document, dict):
        raise SpecError(
            f"spec file {str(path)!r} holds a {type(document).__name__}, not an OpenAPI "
            "document (a mapping with 'openapi', 'info' and 'paths')."
        )
    return document


def _check_openapi(path: Path, document: dict[str, Any]) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    if not str(document.get("openapi", "")).startswith("3.1"):
        raise SpecError(
            f"spec file {str(path)!r} declares openapi {document.get('openapi')!r}; "
            "conformance reads OpenAPI 3.1 documents only."
        )
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in getattr(first, "absolute_path", [])) or "(root)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        said = str(getattr(first, "message", first)).strip().splitlines()[0]
        raise SpecError(
            f"spec file {str(path)!r} is not valid OpenAPI 3.1: at {where}: "
            f"{said}{more}. Fix the document or restore the "
            "vendored copy."
        )
    operation = document.get("paths", {}).get(CHAT_PATH, {}).get("post")
    if not isinstance(operation, dict):
        raise SpecError(
            f"spec file {str(path)!r} has no 'post' operation at {CHAT_PATH!r}; "
            "conformance tests that operation."
        )
    schemas = document.get("components", {}).get("schemas", {})
    missing = [
        name
        for name in ("ChatCompletionRequest", "ChatCompletionResponse", "ChatCompletionChunk")
        if name not in schemas
    ]
    if missing:
        raise SpecError(
            f"spec file {str(path)!r} lacks components.schemas {', '.join(missing)}; "
            "conformance validates requests, responses and chunks against them."
        )


def load_errata(path: Path) -> tuple[Erratum, ...]:
    """Read ``errata.yaml``; a broken file is a ``SpecError`` naming the entry."""
    try:
        data = yaml.safe_load(path.read_bytes())
    except FileNotFoundError:
        raise SpecError(
            f"errata file {str(path)!r} does not exist; the compat profile needs it. "
            "Use --profile strict, or put errata.yaml beside the spec."
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"errata file {str(path)!r} is not valid YAML: {exc}.") from None
    entries = data.get("errata") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SpecError(f"errata file {str(path)!r} must hold a list under 'errata'.")
    out = []
    for n, entry in enumerate(entries):
        try:
            out.append(
                Erratum(
                    id=str(entry["id"]),
                    pointer=str(entry["pointer"]),
                    says=str(entry["says"]).strip(),
                    reality=str(entry["reality"]).strip(),
                    patch=tuple(entry.get("patch") or ()),
                )
            )
        except (KeyError, TypeError) as exc:
            raise SpecError(
                f"errata file {str(path)!r}: entry {n} lacks field {exc}; each entry needs "
                "id, pointer, says and reality (and optionally patch)."
            ) from None
    return tuple(out)


def _apply_errata(document: dict[str, Any], errata: tuple[Erratum, ...]) -> dict[str, Any]:
    patched = copy.deepcopy(document)
    for erratum in errata:
        if not erratum.patch:
            continue
        try:
            patched = jsonpatch.apply_patch(patched, list(erratum.patch))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise SpecError(
                f"erratum {erratum.id!r} no longer fits the document ({exc}). The document "
                "changed: review schemas/errata.yaml against it, or use --profile strict."
            ) from None
    return patched
