"""Integrations of the conformance checks into other tools (each an optional extension)."""
