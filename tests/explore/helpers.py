"""Run the explorer against the reference server in-process (ASGITransport)."""

from __future__ import annotations

import httpx

from conformance.contract._spec import default_contract
from conformance.engine._budget import Budget
from conformance.explore import Exploration, ExploreOptions, Explorer
from conformance.server import ServerConfig, create_app
from conformance.wire._client import Endpoint

KEY = "sk-test-explore-0001"
MODEL = ServerConfig().models[0]


def explorer(*defects, budget=None, faults=(), retry=None, **options):
    config = ServerConfig(api_key=KEY, defects=frozenset(defects), faults=frozenset(faults))
    return Explorer(
        Endpoint("http://127.0.0.1/v1", api_key=KEY, model=MODEL),
        default_contract(),
        budget=budget if budget is not None else Budget(),
        options=ExploreOptions(**options),
        transport=httpx.ASGITransport(create_app(config)),
        retry=retry,
    )


def explore(*defects, budget=None, **options) -> Exploration:
    return explorer(*defects, budget=budget, **options).run()


def only(exploration, property_id):
    found = [d for d in exploration.discoveries if d.property_id == property_id]
    assert len(found) == 1, [d.to_dict() for d in exploration.discoveries]
    return found[0]
