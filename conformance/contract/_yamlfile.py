"""Reading a YAML file the user named (``--spec``, ``--baseline``) without trusting it.

A 534-byte "billion laughs" (aliases of aliases) or ``/dev/zero`` must not eat the machine:
the file must be a regular file of at most ``MAX_YAML_BYTES``, aliases are refused (a
contract or a baseline never needs them), and nesting too deep for the parser is one error.
Each problem raises :class:`UnsafeYaml`, whose message the caller prefixes with the option.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_YAML_BYTES = 16 * 1024 * 1024  # the vendored contract is ~0.3 MB


class UnsafeYaml(ValueError):
    """The file cannot be read safely; the message says why and what to do."""


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that refuses aliases: expanding them is how a tiny file gets huge."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in PyYAML
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise UnsafeYaml(
                f"uses a YAML alias (*{event.anchor}) at line {line}; aliases are refused "
                "(they can expand a small file without bound): write the value out in full"
            )
        return super().compose_node(parent, index)


def read_regular(path: Path, limit: int = MAX_YAML_BYTES, what: str = "spec or baseline") -> bytes:
    """The bytes of ``path``; ``UnsafeYaml`` unless it is a regular file under ``limit``
    (``what``: the kind of file, for the message). ``OSError`` (no such file, no
    permission) is left to the caller to word."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeYaml("is not a regular file (a device, a pipe or a directory?)")
    with open(path, "rb") as handle:
        raw = handle.read(limit + 1)  # the file may grow after the stat
    if len(raw) > limit:
        raise UnsafeYaml(f"is larger than {limit // (1024 * 1024)} MiB; that is no {what}")
    return raw


def load(raw: bytes | str) -> Any:
    """The YAML document in ``raw``; ``UnsafeYaml`` for aliases or nesting too deep,
    ``yaml.YAMLError`` for a syntax error."""
    try:
        return yaml.load(raw, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise UnsafeYaml("is nested too deeply to read") from None
