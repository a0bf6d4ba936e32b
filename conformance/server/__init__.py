"""The reference server: a faithful (or deliberately broken) chat-completions endpoint.

It is what ``conformance run`` tests when no endpoint is given, what ``conformance serve``
exposes, and, with defects switched on, the broken server our own tests check against.
"""

from conformance.server._app import create_app
from conformance.server._config import DEFAULT_MODEL, DEFECTS, FAULTS, ServerConfig
from conformance.server._instance import minimal_instance
from conformance.server._serve import RunningServer, serve, serve_in_thread

__all__ = [
    "DEFAULT_MODEL",
    "DEFECTS",
    "FAULTS",
    "RunningServer",
    "ServerConfig",
    "create_app",
    "minimal_instance",
    "serve",
    "serve_in_thread",
]
