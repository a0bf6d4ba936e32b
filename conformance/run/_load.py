"""Reading a ``results.json`` back, with a clear message for every way it can be wrong.

``compare``, ``history`` and ``baseline write`` read files that may come from anywhere (a CI
artifact, an edited copy): the file is read only under ``MAX_RESULTS_BYTES``, and every field
they read is checked for its type when present (``READ``), so that a damaged file is one
line naming the file and the field, never a traceback. Fields may be absent (older runs,
hand-made fixtures); the whole layout is ``docs/results-schema.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance._errors import ConfigError
from conformance.run._results import SCHEMA_VERSION

# A run keeps at most 64 KiB of each body; a hostile endpoint's run was 9 MB.
MAX_RESULTS_BYTES = 64 * 1024 * 1024

# What a JSON type is called in a message, by Python type.
_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "true or false",
          int: "an integer", float: "a number", type(None): "null"}  # fmt: skip
TEXT, FLAG, COUNT = (str,), (bool,), (int,)
NUMBER = (int, float, type(None))
# Each field compare, history and baseline write read, with the types it may have (absent
# is fine); "*" is every member of an object or item of an array.
READ: dict[str, tuple[type, ...]] = {
    "endpoint": (dict,), "endpoint.base_url": (str, type(None)), "endpoint.embedded": FLAG,
    "model": TEXT, "profile": TEXT, "spec": (dict,), "spec.sha256": TEXT,
    "started_at": TEXT, "verdict": TEXT, "partial": FLAG, "notes": (list,), "notes.*": TEXT,
    "totals": (dict,), "totals.*": COUNT, "tokens": (dict, type(None)),
    "tokens.*": (int, type(None)), "network": (dict, type(None)),
    "latency": (dict, type(None)), "latency.*": (dict, int, type(None)),
    "latency.*.*": (*NUMBER, list), "latency.*.histogram.*": (list,),
    "latency.*.histogram.*.*": NUMBER, "checks": (list,), "checks.*": (dict,),
    "checks.*.id": TEXT, "checks.*.verdict": TEXT, "checks.*.area": TEXT,
    "checks.*.title": TEXT, "checks.*.severity": TEXT, "checks.*.spec": TEXT,
    "checks.*.reason": (str, type(None)), "checks.*.unsupported": FLAG,
    "checks.*.findings": (list,), "checks.*.findings.*": (dict,),
    "checks.*.findings.*.title": TEXT, "checks.*.findings.*.kind": TEXT,
    "checks.*.findings.*.json_path": (str, type(None)),
    "checks.*.findings.*.exchange": (str, type(None)),
    "checks.*.findings.*.count": COUNT, "checks.*.findings.*.seen": COUNT,
    "checks.*.findings.*.trials": COUNT, "checks.*.findings.*.chunk_index": (int, type(None)),
}  # fmt: skip


def read_results(path: Path) -> dict[str, Any]:
    """The data of a ``results.json`` written by ``conformance run``.

    Raises ``ConfigError`` naming the file and the fix when it is missing, not JSON,
    not a results file, or of another schema version.
    """
    try:
        size = path.stat().st_size
        if size > MAX_RESULTS_BYTES and path.is_file():
            raise ConfigError(
                f"{str(path)!r} holds {size} bytes, more than the "
                f"{MAX_RESULTS_BYTES // (1024 * 1024)} MiB a results.json of `conformance run` "
                "can be; it was not read."
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{str(path)!r}: no such file. Pass the results.json that `conformance run` "
            "wrote in its --report-dir (default reports/results.json)."
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{str(path)!r} is a directory. Pass the results.json inside it, e.g. "
            f"{str(path / 'results.json')!r}."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{str(path)!r} cannot be read: {exc}.") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise ConfigError(
            f"{str(path)!r} is JSON nested too deeply to be a results.json of `conformance "
            "run`; the file is damaged."
        ) from None
    except ValueError as exc:
        raise ConfigError(
            f"{str(path)!r} is not JSON ({exc}). Pass the results.json that "
            "`conformance run` wrote, not report.html or junit.xml."
        ) from None
    if not isinstance(data, dict) or "schema_version" not in data or "checks" not in data:
        raise ConfigError(
            f"{str(path)!r} is JSON but not a conformance results.json (it has no "
            "schema_version and checks). Pass the results.json that `conformance run` wrote."
        )
    if data["schema_version"] != SCHEMA_VERSION:
        raise ConfigError(
            f"{str(path)!r} has schema_version {data['schema_version']!r}; this conformance "
            f"reads schema_version {SCHEMA_VERSION}. Run the suite again with this version "
            "to get a results.json it can read."
        )
    if not isinstance(data["checks"], list):
        raise ConfigError(f"{str(path)!r}: `checks` is not a list; the file is damaged.")
    problem = _misread(data)
    if problem is not None:
        raise ConfigError(
            f"{str(path)!r}: {problem}; the file is damaged. Pass the results.json that "
            "`conformance run` wrote."
        )
    return data


def _misread(data: Mapping[str, Any]) -> str | None:
    """The first field of ``READ`` whose value has another type, said as ``checks[3].id is
    a list, not a string``; None when every field read is as expected."""
    todo: list[tuple[str, str, Any]] = [("", "", data)]  # (pattern, JSON path, value)
    while todo:
        pattern, where, value = todo.pop()
        items: list[tuple[str, str, Any]] = []
        if isinstance(value, dict):
            items = [(str(k), f"{where}.{k}" if where else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            items = [("*", f"{where}[{i}]", v) for i, v in enumerate(value)]
        for name, path, item in items:
            field = f"{pattern}.{name}" if pattern else name
            wanted = READ.get(field) or READ.get(f"{pattern}.*" if pattern else "*")
            if wanted is None:
                continue  # not read by anything: not checked
            if not isinstance(item, wanted) or (isinstance(item, bool) and bool not in wanted):
                names = " or ".join(dict.fromkeys(_NAMES[t] for t in wanted))
                return f"`{path}` is {_NAMES.get(type(item), 'a value')}, not {names}"
            todo.append((field if field in READ else f"{pattern}.*", path, item))
    return None
