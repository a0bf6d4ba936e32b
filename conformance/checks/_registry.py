"""The one registry of checks and of the probes (requests) they judge.

A check is a plain function ``(exchange, ctx) -> Iterable[Finding]`` registered with
``@check``. It judges the exchange of each probe it names; it never sends requests
itself, so the same exchange feeds many checks and a run costs few tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from conformance.checks._model import TRIAL_MARK, Finding, Severity
from conformance.contract._spec import Contract
from conformance.wire._exchange import Exchange

AuthMode = Literal["default", "none", "invalid"]


class NotApplicable(Exception):
    """Raised by a check when it cannot apply to this endpoint; the verdict is SKIP."""


class NotProvoked(NotApplicable):
    """Raised when the exchange never exercised the behaviour the check judges (the model
    stopped before the cap, wrote no stop text, called no tool): the verdict is SKIP,
    reported as "not provoked", never PASS."""


class Unsupported(NotApplicable):
    """Raised when the endpoint declares the feature unsupported with a proper 4xx error.

    The verdict is SKIP, reported as "unsupported": not the same as broken.
    """


@dataclass(frozen=True)
class CheckContext:
    """What a check may know besides the exchange."""

    contract: Contract
    model: str
    api_key_configured: bool
    probe: Probe
    # The exchanges of the check's other probes, by probe id (those sent), so that a check
    # can compare two answers (e.g. streamed and not); only probes the check names.
    peers: Mapping[str, Exchange] = field(default_factory=dict)
    # --expect-auth: the endpoint must require a key (else one that serves any key is open)
    expect_auth: bool = False

    def peer(self, probe_id: str) -> Exchange:
        """The exchange of ``probe_id`` (one of the check's probes), or ``NotApplicable``."""
        found = self.peers.get(probe_id)
        if found is None or not found.ok:
            status = "not sent" if found is None else f"answered {found.status or found.error}"
            raise NotApplicable(f"probe {probe_id!r} is needed for the comparison but {status}")
        return found


CheckFunc = Callable[[Exchange, CheckContext], Iterable[Finding]]
Builder = Callable[[str, Mapping[str, Exchange]], dict[str, Any] | None]


@dataclass(frozen=True)
class Probe:
    """A named request. ``body(model)`` builds the JSON body; ``auth`` picks the credentials.

    ``auth="none"`` sends no Authorization header, ``"invalid"`` a made-up key.
    ``content`` (raw bytes) replaces the JSON body for requests that are not JSON at all;
    ``headers`` are sent besides (and over) the client's own, e.g. another Content-Type.
    ``after`` names probes that must be answered before this one is sent (the engine sends
    them too when they were not asked for), e.g. a plain request sent after invalid ones.
    ``build`` (optional) makes the body from the answers of the ``after`` probes (of the
    same trial), by probe id: e.g. a tool_choice naming the function the model did not pick
    under auto, or a question asked again with more room; ``None`` means the follow-up is
    not needed and is not sent. ``body`` stays the request sent without those answers.
    ``sampled``: the answer depends on what the model samples, so the probe is sent once
    per trial (``--trials``); deterministic probes (refusals, headers) are sent once.
    ``alone``: this probe and the ``after`` probes sent with it go out last, one at a time,
    with no other request in flight: "right after those" means right after, whatever the
    endpoint's speed (e.g. a valid request straight after a run of invalid ones).
    """

    id: str
    description: str
    body: Callable[[str], dict[str, Any]]
    auth: AuthMode = "default"
    needs_key: bool = False  # only meaningful when an API key is configured
    content: bytes | None = None
    after: tuple[str, ...] = ()
    query: Mapping[str, str] = field(default_factory=dict)  # URL query parameters
    headers: Mapping[str, str] = field(default_factory=dict)
    sampled: bool = False
    alone: bool = False
    build: Builder | None = field(default=None, compare=False)
    # Body fields sent only when the document in force declares them in the request schema
    # (an SDK argument a profile says is not a wire field, e.g. extra_body under openai).
    if_declared: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    area: str
    severity: Severity
    spec: str  # a pointer into the OpenAPI document, e.g. "#/components/schemas/Usage"
    probes: tuple[str, ...]
    func: CheckFunc = field(repr=False, compare=False)
    description: str = ""
    # True when the check can judge any exchange like its probes' (same stream mode,
    # valid or invalid request), not only its probes': exploration reuses it on generated
    # requests.
    any_exchange: bool = False
    # Pointers into the document of every request parameter the check sends or judges and
    # every response field it judges (tests/checks/test_coverage.py walks the document).
    covers: tuple[str, ...] = ()
    # How to fix a failure: what a conforming answer looks like, then the usual cause
    # (shown beside the check's failure in the terminal, report.html and docs/checks.md).
    fix: str = ""
    # True when the check judges what follows an error sent after a 200 (an error event):
    # such an exchange is inconclusive for every other check (engine/_faults.inconclusive).
    judges_error_events: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "area": self.area,
            "severity": self.severity.value,
            "spec": self.spec,
            "probes": list(self.probes),
        }


def probe_of(exchange_id: str) -> str:
    """The probe an exchange answers (its id without the trial mark)."""
    return exchange_id.split(TRIAL_MARK, 1)[0]


def trial_key(probe_id: str, trial: int) -> str:
    """The exchange id of ``probe_id`` in ``trial`` (1-based; trial 1 keeps the probe id)."""
    return probe_id if trial <= 1 else f"{probe_id}{TRIAL_MARK}{trial}"


_CHECKS: dict[str, Check] = {}
_PROBES: dict[str, Probe] = {}


def check(
    *,
    area: str,
    severity: Severity | str,
    spec: str,
    probes: Iterable[str],
    id: str | None = None,
    any_exchange: bool = False,
    covers: Iterable[str] = (),
    fix: str = "",
    judges_error_events: bool = False,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check. Its id defaults to the function's name; its title to the
    first line of its docstring; what it covers to its ``spec`` pointer plus ``covers``
    (pointers into the document: request parameters it sends or judges, response fields
    it judges); ``fix`` says what a conforming answer looks like and the usual cause of a
    failure."""

    def register(func: CheckFunc) -> CheckFunc:
        check_id = id or func.__name__
        doc = (func.__doc__ or "").strip()
        if not doc:
            raise ValueError(f"check {check_id!r} needs a docstring: its first line is the title")
        if check_id in _CHECKS:
            raise ValueError(f"check id {check_id!r} is registered twice")
        names = tuple(probes)
        unknown = [name for name in names if name not in _PROBES]
        if unknown:
            raise ValueError(f"check {check_id!r} names unknown probes {unknown}")
        _CHECKS[check_id] = Check(
            id=check_id,
            title=doc.splitlines()[0].rstrip("."),
            area=area,
            severity=Severity(severity),
            spec=spec,
            probes=names,
            func=func,
            description=doc,
            any_exchange=any_exchange,
            covers=tuple(dict.fromkeys((spec, *covers))),
            fix=fix,
            judges_error_events=judges_error_events,
        )
        return func

    return register


def properties(schema: str, *names: str) -> tuple[str, ...]:
    """Pointers to properties of a component schema, for ``@check(covers=...)``."""
    return tuple(f"#/components/schemas/{schema}/properties/{name}" for name in names)


def probe(p: Probe) -> Probe:
    """Register a probe under its id."""
    if p.id in _PROBES:
        raise ValueError(f"probe id {p.id!r} is registered twice")
    unknown = [name for name in p.after if name not in _PROBES]
    if unknown:  # only earlier probes: the order can never loop
        raise ValueError(f"probe {p.id!r} is to be sent after unknown probes {unknown}")
    if p.build is not None and not p.after:
        raise ValueError(f"probe {p.id!r} builds its body from earlier answers: name them in after")
    if TRIAL_MARK in p.id:
        raise ValueError(f"probe id {p.id!r} may not contain {TRIAL_MARK!r} (it marks trials)")
    _PROBES[p.id] = p
    return p


def registered_checks() -> list[Check]:
    """Every registered check, in registration order (area by area)."""
    _load_catalogue()
    return list(_CHECKS.values())


def get_check(check_id: str) -> Check:
    _load_catalogue()
    try:
        return _CHECKS[check_id]
    except KeyError:
        raise KeyError(
            f"no check with id {check_id!r}; known: {', '.join(sorted(_CHECKS))}"
        ) from None


def get_probe(probe_id: str) -> Probe:
    _load_catalogue()
    return _PROBES[probe_id]


def registered_probes() -> list[Probe]:
    _load_catalogue()
    return list(_PROBES.values())


def _load_catalogue() -> None:
    """Import the catalogue modules so their decorators run (once)."""
    from conformance.checks import _catalogue  # noqa: F401
