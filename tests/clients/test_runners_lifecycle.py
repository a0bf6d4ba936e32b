"""The client runners start with the session and never outlive it."""

from __future__ import annotations

import pytest

from conformance._errors import SpecError
from conformance.run._session import Session
from conformance.run._settings import resolve_settings


def test_a_session_that_cannot_start_ends_the_runners_it_started(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("openapi: 3.1.0\ninfo: [\n")
    session = Session(resolve_settings(spec=spec, env={}))
    with pytest.raises(SpecError), session:
        pass
    assert session._warm is not None  # started before the spec was read
    assert session._warm.workers  # the Python clients' runner at least
    ended = {name: w.process.poll() is not None for name, w in session._warm.workers.items()}
    assert ended == dict.fromkeys(session._warm.workers, True)
