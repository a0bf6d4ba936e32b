"""Load the OpenAPI contract, check it is valid OpenAPI 3.1, and hand out validators.

The vendored document is the single source of truth. The ``strict`` profile reads it as
written; the ``openai`` profile applies the OpenAPI Overlay ``openai.overlay.yaml`` beside it,
which relaxes the errata written up in ``ERRATA.md`` (see ``_overlay.py``).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import yaml

from conformance._errors import SpecError
from conformance.contract._overlay import OVERLAY_FILENAME, Overlay, load_overlay
from conformance.contract._validation import SchemaValidator
from conformance.contract._yamlfile import UnsafeYaml, load, read_regular

CHAT_PATH = "/v1/chat/completions"
PROFILES = ("strict", "openai")
SPEC_FILENAME = "chat-completions.openapi.yaml"


def schemas_dir() -> Path:
    """Where the vendored documents live: inside the wheel, or ``schemas/`` in a checkout."""
    package = Path(__file__).resolve().parents[1]  # conformance/
    packaged = package / "_schemas"
    if packaged.is_dir():
        return packaged
    return package.parent / "schemas"


def default_spec_path() -> Path:
    return schemas_dir() / SPEC_FILENAME


def unknown_profile(profile: str, *, name: str = "profile") -> str | None:
    """What is wrong with ``profile`` (as the argument ``name``), or None when it is known:
    the one message of settings, ``Contract.load`` and the reference server."""
    if profile in PROFILES:
        return None
    return (
        f"{name} {profile!r} is unknown. Use 'strict' (the document as written) or 'openai' "
        f"(the document with schemas/{OVERLAY_FILENAME} applied, see schemas/ERRATA.md)."
    )


# Judging rules a profile may relax (``Contract.relaxes``), each named by an overlay action on
# ``$.info`` (with the erratum that says why) and read by the check it weakens.
RELAXES = "x-conformance-relaxes"
RELAXATIONS: dict[str, str] = {
    "chunk-created-may-change": "`created` changing between the chunks of a stream is a SHOULD",
    "sse-unknown-fields-ignored": "an event-stream field the SSE standard does not know is "
    "ignored, as the standard says, not a finding",
}


class Contract:
    """The loaded contract: the document, its hash, the profile in force, and validators."""

    def __init__(
        self,
        *,
        path: Path,
        raw: bytes,
        document: dict[str, Any],
        profile: str,
        overlay: Overlay | None,
    ) -> None:
        self.path = path
        self.raw = raw
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.document = document
        self.profile = profile
        self.overlay = overlay  # the overlay applied (None under the strict profile)
        self._components: dict[str, Any] = document["components"]["schemas"]
        self._validators: dict[str, SchemaValidator] = {}

    @property
    def title(self) -> str:
        return str(self.document["info"].get("title", ""))

    @property
    def version(self) -> str:
        return str(self.document["info"].get("version", ""))

    def relaxes(self, name: str) -> bool:
        """Whether the profile in force relaxes the named judging rule (``RELAXATIONS``):
        the overlay lists it in the document's ``info.x-conformance-relaxes``, one action per
        rule, each naming its erratum. A rule no schema can express (a field that may change
        between chunks, an event-stream field to ignore) is relaxed this way, as data."""
        listed = self.document["info"].get(RELAXES, [])
        return isinstance(listed, list) and name in listed

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
        unknown = unknown_profile(profile)
        if unknown is not None:
            raise SpecError(unknown)
        spec_path = Path(path) if path is not None else default_spec_path()
        raw = _read(spec_path)
        document = _parse(spec_path, raw)
        _check_ref_cycles(spec_path, document)
        overlay = None
        try:
            _check_openapi(spec_path, document)
            if profile == "openai":
                overlay = load_overlay(spec_path.parent / OVERLAY_FILENAME)
                document = overlay.apply(document)
                _check_openapi(spec_path, document, overlay=overlay.path)
        except RecursionError:
            raise SpecError(
                f"spec file {str(spec_path)!r} is nested too deeply (or through $ref) to "
                "check. Fix the file or restore the vendored copy."
            ) from None
        return cls(path=spec_path, raw=raw, document=document, profile=profile, overlay=overlay)


@functools.cache
def default_contract(profile: str = "strict") -> Contract:
    """The vendored contract, loaded once per process and profile."""
    return Contract.load(profile=profile)


def _read(path: Path) -> bytes:
    try:
        return read_regular(path)
    except UnsafeYaml as exc:
        raise SpecError(
            f"spec file {str(path)!r} {exc}. Pass the path of an OpenAPI 3.1 document with "
            "--spec, or leave --spec out to use the vendored contract."
        ) from None
    except FileNotFoundError:
        raise SpecError(
            f"spec file {str(path)!r} does not exist. Pass the path of an OpenAPI 3.1 "
            "document with --spec, or leave --spec out to use the vendored contract."
        ) from None
    except OSError as exc:
        raise SpecError(f"spec file {str(path)!r} cannot be read: {exc.strerror}.") from None


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        document = load(raw)
    except UnsafeYaml as exc:
        raise SpecError(f"spec file {str(path)!r} {exc}. Fix the file.") from None
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


def _check_ref_cycles(path: Path, document: dict[str, Any]) -> None:
    """Refuse a schema that is only a ``$ref`` to itself, through any chain of such schemas:
    it describes nothing, and validating against it never ends."""
    schemas = document.get("components", {}).get("schemas", {})
    if not isinstance(schemas, dict):
        return
    prefix = "#/components/schemas/"

    def target(name: str) -> str | None:
        node = schemas.get(name)
        ref = node.get("$ref") if isinstance(node, dict) else None
        if isinstance(ref, str) and ref.startswith(prefix):
            return ref[len(prefix) :]
        return None

    for start in schemas:
        chain = [start]
        following = target(start)
        while following is not None:
            if following in chain:
                loop = " -> ".join([*chain[chain.index(following) :], following])
                raise SpecError(
                    f"spec file {str(path)!r} has a $ref cycle: {loop}. Each schema in it is "
                    "only a reference to the next, so none says anything; fix the file."
                )
            chain.append(following)
            following = target(following)


def _check_openapi(path: Path, document: dict[str, Any], *, overlay: Path | None = None) -> None:
    """Refuse what is not an OpenAPI 3.1 document with the chat operation and schemas.

    With ``overlay``, ``document`` is the spec with that overlay applied, and a problem is
    the overlay's doing: the message says so.
    """
    from openapi_spec_validator import OpenAPIV31SpecValidator

    if overlay is not None:
        path_text = f"{str(path)!r} with overlay {str(overlay)!r}"
        fix = "Fix the overlay, or use --profile strict."
    else:
        path_text = f"{str(path)!r}"
        fix = "Fix the document or restore the vendored copy."

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
            f"spec file {path_text} is not valid OpenAPI 3.1: at {where}: {said}{more}. {fix}"
        )
    operation = document.get("paths", {}).get(CHAT_PATH, {}).get("post")
    if not isinstance(operation, dict):
        raise SpecError(
            f"spec file {path_text} has no 'post' operation at {CHAT_PATH!r}; "
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
            f"spec file {path_text} lacks components.schemas {', '.join(missing)}; "
            "conformance validates requests, responses and chunks against them."
        )
