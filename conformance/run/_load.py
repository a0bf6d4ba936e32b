"""Reading a ``results.json`` back, with a clear message for every way it can be wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance._errors import ConfigError
from conformance.run._results import SCHEMA_VERSION


def read_results(path: Path) -> dict[str, Any]:
    """The data of a ``results.json`` written by ``conformance run``.

    Raises ``ConfigError`` naming the file and the fix when it is missing, not JSON,
    not a results file, or of another schema version.
    """
    try:
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
    return data
