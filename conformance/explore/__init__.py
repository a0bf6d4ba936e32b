"""Property-based exploration of an endpoint, generated from the contract and bounded by
the run's budget (no pytest, no HTML here)."""

from conformance.explore._explorer import (
    DEFAULT_EXAMPLES,
    Discovery,
    Exploration,
    Explorer,
    ExploreOptions,
    PhaseStats,
    generate,
)
from conformance.explore._mutate import Mutation, invalid_requests, mutations
from conformance.explore._properties import PROPERTIES, get_property
from conformance.explore._shape import Shaping, cohere, generation_schema, valid_requests

__all__ = [
    "DEFAULT_EXAMPLES",
    "PROPERTIES",
    "Discovery",
    "ExploreOptions",
    "Exploration",
    "Explorer",
    "Mutation",
    "PhaseStats",
    "Shaping",
    "cohere",
    "generate",
    "generation_schema",
    "get_property",
    "invalid_requests",
    "mutations",
    "valid_requests",
]
