"""Errors a user can act on. Each message names what was wrong and what to do."""

from __future__ import annotations


class ConformanceError(Exception):
    """Base for every error this package raises on purpose."""


class SpecError(ConformanceError):
    """The OpenAPI document (or an overlay) cannot be used."""


class ConfigError(ConformanceError):
    """A command-line option, environment variable or setting is wrong."""


class EndpointUnreachable(ConformanceError):
    """The endpoint could not be reached at all; no check could conclude anything."""
