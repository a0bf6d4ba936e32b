"""The e2e helpers' `served` fixture (`conformance serve` in its own process), shared here."""

from tests.e2e.conftest import served  # noqa: F401 - a fixture, used by name
