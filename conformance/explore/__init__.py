"""Property-based exploration of an endpoint, generated from the contract and bounded by
the run's budget (no pytest, no HTML here).

The names load lazily: the pytest plugin reads the options in every pytest run on the
machine, and hypothesis must not be imported before its own pytest plugin loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from conformance.explore._options import DEFAULT_EXAMPLES, ExploreOptions, Shaping
from conformance.explore._properties import PROPERTIES, get_property

if TYPE_CHECKING:
    from conformance.explore._exploration import Discovery, Exploration, PhaseStats
    from conformance.explore._explorer import Explorer
    from conformance.explore._mutate import Mutation, invalid_requests, mutations
    from conformance.explore._shape import RequestFactory, cohere, generate, generation_schema

_LAZY = {
    "Discovery": "_exploration",
    "Exploration": "_exploration",
    "Explorer": "_explorer",
    "PhaseStats": "_exploration",
    "generate": "_shape",
    "RequestFactory": "_shape",
    "Mutation": "_mutate",
    "invalid_requests": "_mutate",
    "mutations": "_mutate",
    "cohere": "_shape",
    "generation_schema": "_shape",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conformance.explore' has no attribute {name!r}")
    return getattr(importlib.import_module(f"conformance.explore.{module}"), name)


__all__ = [
    "DEFAULT_EXAMPLES",
    "PROPERTIES",
    "Discovery",
    "Exploration",
    "ExploreOptions",
    "Explorer",
    "Mutation",
    "PhaseStats",
    "RequestFactory",
    "Shaping",
    "cohere",
    "generate",
    "generation_schema",
    "get_property",
    "invalid_requests",
    "mutations",
]
