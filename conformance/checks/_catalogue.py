"""Load every check: one module per feature area, imported in report order.

Each area module imports ``_probes`` (which registers the probes) before it registers
its checks, so the registry lists checks area by area in the order of ``AREAS``.
"""

from __future__ import annotations

import importlib

AREAS = (
    *("http", "envelope", "stream", "usage", "finish", "sampling", "parameters"),
    *("auth", "errors"),
    *("tools", "response_format", "logprobs", "messages", "reasoning"),
    "clients",  # last: the client replay reads every exchange after the other checks
)

for _area in AREAS:
    importlib.import_module(f"conformance.checks.{_area}")
