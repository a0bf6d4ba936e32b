"""Follow-up probes: the same question asked again, only when the earlier answer did not
provoke what the check judges (a JSON answer cut by the cap, no tool called under auto).

A follow-up is sent after its predecessors, in the same trial, and only when the last of
them that was sent still left the behaviour unprovoked; otherwise the engine records it
as not needed. Checks judge the first answer and its follow-ups alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conformance.checks._model import AGAIN_MARK
from conformance.checks._registry import Probe, probe
from conformance.wire._exchange import Exchange

Unprovoked = Callable[[Exchange], bool]  # True: this answer did not provoke the behaviour


def ask_again(
    first: Probe,
    *,
    times: int,
    unprovoked: Unprovoked,
    why: str,
    **changes: Any,
) -> tuple[Probe, ...]:
    """Register ``times`` follow-ups of ``first`` (ids ``<first>_again``, ``_again2``...),
    each the body of ``first`` with ``changes``, sent when the answer before it was
    ``unprovoked`` (``why`` says when, for the probe's description)."""
    chain: list[Probe] = [first]
    for n in range(1, times + 1):
        suffix = AGAIN_MARK if n == 1 else f"{AGAIN_MARK}{n}"  # model.probe_family undoes it
        chain.append(
            probe(
                Probe(
                    f"{first.id}{suffix}",
                    f"{first.id} asked again{_changed(changes)} when {why}",
                    _body(first, changes),
                    sampled=first.sampled,
                    after=tuple(p.id for p in chain),
                    build=_build(first, tuple(p.id for p in chain), changes, unprovoked),
                )
            )
        )
    return tuple(chain[1:])


def _changed(changes: Mapping[str, Any]) -> str:
    return "".join(f" with {k}: {v}" for k, v in changes.items())


def _body(first: Probe, changes: Mapping[str, Any]) -> Callable[[str], dict[str, Any]]:
    def body(model: str) -> dict[str, Any]:
        return {**first.body(model), **changes}

    return body


def _build(
    first: Probe, earlier: tuple[str, ...], changes: Mapping[str, Any], unprovoked: Unprovoked
) -> Callable[[str, Mapping[str, Exchange]], dict[str, Any] | None]:
    def build(model: str, peers: Mapping[str, Exchange]) -> dict[str, Any] | None:
        last = peers.get(earlier[-1])  # absent: not needed, so neither is this one
        if last is None or not last.ok or not unprovoked(last):
            return None
        return {**first.body(model), **changes}

    return build
