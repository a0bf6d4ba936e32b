"""Clients: every recorded answer is read by the tested client libraries (openai-python,
langchain-openai, openai-node, the Vercel AI SDK) as the suite reads its bytes.

The reading is not done here: checks never run clients. ``conformance/clients`` replays the
run's exchanges after every other check is judged, and reports under this check the client
breaks that no other finding names (``clients._impact``); alone, the check is SKIP.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks._model import Finding, Severity
from conformance.checks._registry import CheckContext, NotApplicable, check
from conformance.wire._exchange import Exchange

RESPONSE = "#/components/schemas/ChatCompletionResponse"


# No probes of its own: it reads every answer of the run, after the other checks.
@check(
    area="clients",
    severity=Severity.SHOULD,
    spec=RESPONSE,
    probes=[],
    fix=(
        "Send what the finding's client reads as the bytes say: role once per choice, every "
        "tool-call delta with its index, content as a string. Usual cause: a quirk the "
        "document allows or does not name, which that client's accumulator mishandles."
    ),
)
def client_reads_exchange(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Every tested client reads each answer as its bytes say (a break no other check names).

    After the run, every 2xx answer is fed to openai-python, langchain-openai, openai-node and
    the Vercel AI SDK through their transport hooks (never the network), and what each yields
    (role, content, refusal, reasoning, tool calls, finish_reason, usage, logprob tokens) is
    compared with the suite's own reading. An exception, a garbled or a lost field that no
    other finding on the same exchange names is a finding here: which client, its version and
    mode, what it produced, what it should have, and the event that caused it. A SHOULD: the
    document is the MUST; `--fail-on client` fails a run on anything that breaks a client.
    """
    raise NotApplicable("judged by the client replay after the other checks (conformance/clients)")
    yield  # pragma: no cover - a generator, like every check
