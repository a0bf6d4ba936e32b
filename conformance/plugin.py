"""The pytest plugin (entry point ``pytest11``): options, markers, fixtures and wiring.

It holds no check logic and renders nothing itself: the engine judges, ``_text`` and
``_report`` render.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from conformance._errors import ConformanceError
from conformance.checks import get_check
from conformance.checks._model import Verdict
from conformance.contract._spec import PROFILES
from conformance.engine._result import CheckResult
from conformance.explore import DEFAULT_EXAMPLES, ExploreOptions
from conformance.report._text import render_result
from conformance.run._results import EXIT_INTERRUPTED
from conformance.run._session import Session
from conformance.run._settings import DEFAULT_TRIALS, Settings, resolve_settings
from conformance.wire._exchange import Exchange
from conformance.wire._visible import visible

RESULT_KEY = pytest.StashKey[CheckResult]()
STATE_KEY = pytest.StashKey["_State"]()
MARKER = "conformance_check"
EXPLORE_MARKER = "conformance_explore"
PHASES = ("checks", "explore", "all")


# The CLI's words for what pytest users pass otherwise: the plugin's options, and the
# environment only for the key (the plugin has no key option: argv is visible to others).
_PLUGIN_WORDS = (
    (
        "Check --api-key (or CONFORMANCE_API_KEY / OPENAI_API_KEY)",
        "Check CONFORMANCE_API_KEY (or OPENAI_API_KEY)",
    ),
    (", or pass --api-key.", "."),
)
_OPTION = re.compile(
    r"(?<![\w-])--(base-url|model|spec|profile|concurrency|trials|phase|examples|seed)\b"
)


def in_plugin_words(message: str) -> str:
    """A settings or preflight message of ``conformance run`` as a pytest user acts on it:
    ``--model`` is ``--conformance-model`` here."""
    for cli, plugin in _PLUGIN_WORDS:
        message = message.replace(cli, plugin)
    return _OPTION.sub(r"--conformance-\1", message)


class Inconclusive(Exception):
    """A check could not conclude (transport failure, rate limit): reported as an error."""


class _State:
    """The plugin's per-config state: the session (handed over by the CLI, or opened
    lazily here) and the ids of the checks collected."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        handed = [p for p in config.pluginmanager.get_plugins() if isinstance(p, Session)]
        self.session: Session | None = handed[0] if handed else None
        self.owned = False
        self.selected: list[str] = []
        self.fetched = False

    def settings(self) -> Settings:
        opt = self.config.getoption
        return resolve_settings(
            base_url=opt("conformance_base_url"),
            model=opt("conformance_model"),
            spec=opt("conformance_spec"),
            profile=opt("conformance_profile"),
            concurrency=opt("conformance_concurrency"),
            trials=opt("conformance_trials"),
            expect_auth=opt("conformance_expect_auth"),
            clients=not opt("conformance_no_clients"),
        )

    def explore_options(self) -> ExploreOptions:
        opt = self.config.getoption
        examples = opt("conformance_examples")
        return ExploreOptions(
            examples=DEFAULT_EXAMPLES if examples is None else examples,
            seed=opt("conformance_seed"),
        )

    def open(self) -> Session:
        if self.session is None:
            try:
                self.session = Session(self.settings(), explore=self.explore_options()).__enter__()
            except ConformanceError as exc:
                pytest.exit(f"conformance: {in_plugin_words(str(exc))}", returncode=2)
            self.owned = True
            # The same preflight as `conformance run`: unreachable, no key or a rejected
            # one, a model not served is one line and its exit code, not a test per request.
            stop = self.session.preflight_stop()
            if stop is not None:
                self.session.preflight_exit = stop.exit_code
                pytest.exit(f"conformance: {in_plugin_words(stop.message)}", stop.exit_code)
        if not self.fetched:
            self.fetched = True
            probes = [p for cid in self.selected for p in get_check(cid).probes]
            self.session.runner.fetch(probes)
            self.session.runner.gather_evidence([get_check(cid) for cid in self.selected])
        return self.session


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "OpenAI-compatible chat-completions conformance")
    group.addoption(
        "--conformance-base-url",
        dest="conformance_base_url",
        default=None,
        help="Base URL of the endpoint, e.g. https://host/v1 (else CONFORMANCE_BASE_URL, "
        "OPENAI_BASE_URL; with none, the embedded reference server is tested). The API key "
        "is read from CONFORMANCE_API_KEY or OPENAI_API_KEY only.",
    )
    group.addoption(
        "--conformance-model",
        dest="conformance_model",
        default=None,
        help="Model to test (else CONFORMANCE_MODEL).",
    )
    group.addoption(
        "--conformance-spec",
        dest="conformance_spec",
        default=None,
        help="OpenAPI 3.1 document to test against (default: the vendored one).",
    )
    group.addoption(
        "--conformance-profile",
        dest="conformance_profile",
        default="openai",
        choices=list(PROFILES),
        help="openai (default): the document with schemas/openai.overlay.yaml; strict: the "
        "document as written.",
    )
    group.addoption(
        "--conformance-concurrency",
        dest="conformance_concurrency",
        type=int,
        default=8,
        help="Requests in flight at once (default 8).",
    )
    group.addoption(
        "--conformance-trials",
        dest="conformance_trials",
        type=int,
        default=DEFAULT_TRIALS,
        help=f"Sends of each probe whose answer depends on sampling (default {DEFAULT_TRIALS}).",
    )
    group.addoption(
        "--conformance-expect-auth",
        dest="conformance_expect_auth",
        action="store_true",
        default=False,
        help="The endpoint must require an API key (else an open endpoint's auth checks SKIP).",
    )
    group.addoption(
        "--conformance-no-clients",
        dest="conformance_no_clients",
        action="store_true",
        default=False,
        help="Skip the client replay (the answers read by openai-python, langchain-openai, "
        "openai-node and the AI SDK after the checks).",
    )
    group.addoption(
        "--conformance-phase",
        dest="conformance_phase",
        default="checks",
        choices=list(PHASES),
        help="checks: the fixed probes (default); explore: requests generated from the "
        "contract; all: both.",
    )
    group.addoption(
        "--conformance-examples",
        dest="conformance_examples",
        type=int,
        default=None,
        help="Generated requests per exploration phase (valid, invalid).",
    )
    group.addoption(
        "--conformance-seed",
        dest="conformance_seed",
        type=int,
        default=None,
        help="Exploration seed: the same seed replays the same generated requests.",
    )
    group.addoption(
        "--conformance-results",
        dest="conformance_results",
        default=None,
        help="Write results.json to this path.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(check_id): the test runs the registered conformance check."
    )
    config.addinivalue_line(
        "markers", f"{EXPLORE_MARKER}(property_id): the test judges an exploration property."
    )
    state = config.stash[STATE_KEY] = _State(config)
    given = any(
        config.getoption(name) is not None
        for name in ("conformance_base_url", "conformance_model", "conformance_spec")
    )
    if given and state.session is None:
        # Options given on the command line are checked at once; the environment is only
        # read when the suite actually runs, so a stray OPENAI_BASE_URL never breaks
        # unrelated pytest runs on the same machine.
        try:
            state.settings()
        except ConformanceError as exc:
            raise pytest.UsageError(in_plugin_words(str(exc))) from None
    if config.pluginmanager.hasplugin("html"):
        from conformance.report._report import HtmlReportHooks

        config.pluginmanager.register(
            HtmlReportHooks(config, lambda: state.session), "conformance-html"
        )


@pytest.hookimpl(trylast=True)  # after -k and -m deselected theirs: only the rest is sent
def pytest_collection_modifyitems(items: list[pytest.Item], config: pytest.Config) -> None:
    state = config.stash[STATE_KEY]
    phase = state.session.phase if state.session is not None else None
    phase = phase or config.getoption("conformance_phase")
    if phase != "all":
        unwanted = MARKER if phase == "explore" else EXPLORE_MARKER
        dropped = [item for item in items if item.get_closest_marker(unwanted) is not None]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if item.get_closest_marker(unwanted) is None]
    for item in items:
        mark = item.get_closest_marker(MARKER)
        if mark is not None and mark.args:
            state.selected.append(str(mark.args[0]))
    if state.session is not None and state.session.observer is not None:
        explored = [i for i in items if i.get_closest_marker(EXPLORE_MARKER) is not None]
        state.session.observer.checks_planned(len(state.selected) + len(explored))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is None or state.session is None:
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED and state.session.interrupted is None:
        # Ctrl-C (SIGTERM records its own name first): results.json, report.html and
        # junit.xml, all written after this, say the run was interrupted.
        state.session.interrupted = "SIGINT"
    path = session.config.getoption("conformance_results")
    if path:
        from pathlib import Path

        state.session.write_results(Path(path))
    _mark_junit(session.config, state.session)


def _mark_junit(config: pytest.Config, run: Session) -> None:
    """An interrupted or stopped run says so in junit.xml's suite properties (JUnit is
    written after this hook, by pytest's own sessionfinish)."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    info = run.info()
    from conformance.report._clients import junit_properties
    from conformance.run._results import clients_record

    replayed = run.client_replay() if run.results else None
    if replayed is not None:
        data = {"clients": clients_record(replayed, run.runner.exchanges)}
        for name, value in junit_properties(data):
            xml.add_global_property(name, value)
    if info.partial:
        xml.add_global_property("conformance_partial", "true")
    if run.interrupted is not None:
        xml.add_global_property("conformance_interrupted", run.interrupted)
        xml.add_global_property("conformance_exit_code", str(EXIT_INTERRUPTED))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None and state.owned and state.session is not None:
        state.session.__exit__(None, None, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(Inconclusive):
        # The reason is the whole story: no fixture source, no CheckResult repr.
        report.longrepr = str(call.excinfo.value)
    result = item.stash.get(RESULT_KEY, None)
    if result is not None:
        report.user_properties.append(("conformance_verdict", result.verdict.value))
        report.user_properties.append(("conformance_check", result.check.id))
        if call.when == "call" or (call.when == "setup" and report.failed):
            from conformance.report._report import attach_evidence

            attach_evidence(item.config, report, result)
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or state.session is None or not state.session.results:
        return
    warned = [r for r in state.session.results if r.verdict is Verdict.WARN]
    if warned:
        terminalreporter.section("conformance warnings (SHOULD)")
        for result in warned:
            terminalreporter.write_line(render_result(result))


def enforce_verdict(result: CheckResult) -> None:
    """Turn a verdict into the pytest outcome: FAIL fails, SKIP skips, PASS/WARN pass."""
    if result.verdict is Verdict.FAIL:
        pytest.fail(render_result(result), pytrace=False)
    if result.verdict is Verdict.SKIP:
        pytest.skip(visible(f"{result.check.id}: {result.reason}"))


@pytest.fixture(scope="session")
def conformance_session(request: pytest.FixtureRequest) -> Session:
    """The run's session: contract, endpoint (or embedded server) and recorded exchanges."""
    return request.config.stash[STATE_KEY].open()


@pytest.fixture
def conformance_check(request: pytest.FixtureRequest, conformance_session: Session) -> CheckResult:
    """Judge the check named by the test's parameter; ERROR raises ``Inconclusive``."""
    result = conformance_session.evaluate(get_check(str(request.param)))
    return _judged(request, conformance_session, result)


@pytest.fixture
def conformance_property(
    request: pytest.FixtureRequest, conformance_session: Session
) -> CheckResult:
    """Judge the exploration property named by the test's parameter (exploring once per
    session, on the first such test); ERROR raises ``Inconclusive``."""
    from conformance.explore import get_property

    exploration = conformance_session.explore()
    result = exploration.result(get_property(str(request.param)))
    if conformance_session.observer is not None:
        conformance_session.observer.check_done(result)
    return _judged(request, conformance_session, result)


def _judged(request: pytest.FixtureRequest, session: Session, result: CheckResult) -> CheckResult:
    """Keep the result (for results.json and the test's report row); ERROR raises
    ``Inconclusive``."""
    session.results.append(result)
    request.node.stash[RESULT_KEY] = result
    if result.verdict is Verdict.ERROR:
        raise Inconclusive(visible(f"{result.check.id}: inconclusive: {result.reason}"))
    return result


@pytest.fixture
def conformance_chat(conformance_session: Session) -> Callable[..., Exchange]:
    """Send one chat request to the endpoint under test and get the recorded exchange.

    ``conformance_chat({"messages": [...]})`` fills in ``model``; pass ``auth="none"`` to
    send no key. Nothing is cached: every call is a new request.
    """
    import asyncio
    import itertools

    from conformance.wire._client import ChatClient

    session = conformance_session
    counter = itertools.count(1)

    def chat(body: dict[str, Any], *, auth: str = "default") -> Exchange:
        payload = {"model": session.endpoint.model, **body}

        async def send() -> Exchange:
            async with ChatClient(session.endpoint) as client:
                return await client.chat(f"adhoc-{next(counter)}", payload, auth=auth)  # type: ignore[arg-type]

        return asyncio.run(send())

    return chat
