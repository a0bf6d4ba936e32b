"""Why each choice ended: ``length`` when a token cap cut it, ``tool_calls`` when it called
a tool. Whether the value is in the document's enum at all is the schema checks' job."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks._answer import Answer, answered, count, read_answer, requested, token_cap
from conformance.checks._helpers import require_success
from conformance.checks._model import Finding, Severity
from conformance.checks._probes_sampling import AUTO, CAP_PROBES
from conformance.checks._probes_tools import CALLING
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    NotProvoked,
    check,
    properties,
)
from conformance.wire._exchange import Exchange

FINISH = "#/components/schemas/ChatCompletionChoice/properties/finish_reason"
LENGTH = "length"
TOOL_CALLS = "tool_calls"


@check(
    area="finish",
    severity=Severity.MUST,
    spec=FINISH,
    probes=list(CAP_PROBES),
    covers=[
        *properties("ChatCompletionRequest", "max_tokens", "max_completion_tokens"),
        *properties("ChatCompletionStreamChoice", "finish_reason"),
    ],
    fix=(
        "End a choice cut by max_tokens or max_completion_tokens with finish_reason: "
        "length. Usual cause: every end reported as stop."
    ),
)
def finish_reason_length(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A choice cut by max_tokens or max_completion_tokens ends with finish_reason: length.

    The document: ``length`` "if the maximum number of tokens specified in the request was
    reached". Clients tell a truncated answer from a complete one by it alone. The probes
    ask for far more than their cap allows; a model that stopped by itself below the cap
    (usage says so) is not judged.
    """
    answer = read_answer(exchange)  # a refusal is max_tokens_honoured's to report
    cap = token_cap(requested(exchange, ctx))
    used = count(answer.usage, "completion_tokens")
    if cap is None or not answer.choices:
        raise NotApplicable("no cap in the request, or no choice in the answer")
    if used is None:
        raise NotApplicable("the answer reports no completion_tokens, so a cut cannot be told")
    if used < cap[0] * len(answer.choices):
        raise NotProvoked(f"the model stopped by itself after {used} of {cap[0]} tokens ({cap[1]})")
    for view in answer.choices.values():
        if view.finish_reason != LENGTH:
            yield Finding(
                title=f"an answer that reached {cap[1]} does not finish with length",
                kind="reached the token cap without finish_reason length",
                json_path=view.finish_mark.json_path,
                expected=f"{LENGTH} ({used} completion tokens reached {cap[1]}: {cap[0]})",
                actual=view.finish_reason,
                schema_path=FINISH,
                chunk_index=view.finish_mark.chunk_index,
            )


def _tool_findings(answer: Answer, *, forced: bool) -> Iterator[Finding]:
    called = [v for v in answer.choices.values() if v.tool_calls]
    if not called and all(v.finish_reason != TOOL_CALLS for v in answer.choices.values()):
        raise NotProvoked("the model answered without calling a tool")
    for view in answer.choices.values():
        if view.tool_calls and view.finish_reason != TOOL_CALLS:
            yield Finding(
                title="a choice with tool calls does not finish with tool_calls"
                + (" (the tool was forced)" if forced else ""),
                kind="tool calls without finish_reason tool_calls",
                json_path=view.finish_mark.json_path,
                expected=TOOL_CALLS,
                actual=view.finish_reason,
                schema_path=FINISH,
                chunk_index=view.finish_mark.chunk_index,
            )
        elif not view.tool_calls and view.finish_reason == TOOL_CALLS:
            yield Finding(
                title="finish_reason is tool_calls but the choice has no tool call",
                json_path=view.finish_mark.json_path,
                expected="stop, or a tool call in the message",
                actual=TOOL_CALLS,
                schema_path=FINISH,
                chunk_index=view.finish_mark.chunk_index,
            )


@check(
    area="finish",
    severity=Severity.MUST,
    spec=FINISH,
    probes=list(AUTO),
    covers=[*properties("ChatCompletionRequest", "tools")],
    fix=(
        "End a choice that calls a tool with finish_reason: tool_calls. Usual cause: the "
        "model's stop token mapped to stop even when the answer is a tool call."
    ),
)
def finish_reason_tool_calls(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A choice that calls a tool (tool_choice auto) ends with finish_reason: tool_calls.

    Agent loops (the OpenAI SDK examples, LangChain, LiteLLM) branch on
    ``finish_reason == "tool_calls"`` to run the tools; ``stop`` makes them print the
    empty message instead. The reverse, ``tool_calls`` with no call, sends them looking
    for calls that are not there. A model that called nothing is asked again (up to twice
    a trial); no call at all: "not provoked".
    """
    yield from answered(exchange, ctx, what="tools", unsupported=True)
    if exchange.ok:
        yield from _tool_findings(read_answer(exchange), forced=False)


@check(
    area="finish",
    severity=Severity.SHOULD,
    spec=FINISH,
    probes=list(CALLING),
    fix=(
        "End a choice forced to call a tool (tool_choice required or named) with "
        "finish_reason: tool_calls. Usual cause: forced calls reported as stop."
    ),
)
def finish_reason_tool_calls_forced(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A choice that calls a forced tool ends with finish_reason: tool_calls.

    When ``tool_choice`` is "required" or names the function, OpenAI itself answers
    ``stop`` (and vLLM copies it for a named function), so this is a warning, not a
    failure: clients that branch on ``finish_reason`` miss the call, clients that look
    for ``tool_calls`` do not. Judged on the tools area's probes, streamed and not (a
    refusal of those is the tools checks' to report).
    """
    require_success(exchange)
    if exchange.ok:
        yield from _tool_findings(read_answer(exchange), forced=True)
