"""One reader of usage (``Exchange.reported_usage``): the budget, the usage checks and the
answer views read the same object, and ``true`` is not a token count anywhere."""

from __future__ import annotations

import json

from conformance.checks._answer import count, read_answer
from conformance.wire._exchange import Exchange, RecordedRequest, token_count
from conformance.wire._sse import ServerSentEvent


def plain(usage):
    body = {"choices": [], "usage": usage}
    request = RecordedRequest("POST", "http://127.0.0.1/v1", {}, {})
    return Exchange("chat", request, 200, {"content-type": "application/json"},
                    json.dumps(body).encode())  # fmt: skip


def test_true_is_not_a_count_for_the_budget_nor_for_the_checks():
    exchange = plain({"prompt_tokens": True, "completion_tokens": 3, "total_tokens": 4})
    assert exchange.usage() is None  # the budget estimates instead of billing 1
    assert count(read_answer(exchange).usage, "prompt_tokens") is None
    assert [token_count(v) for v in (True, -1, 2.0, 0, 7)] == [None, None, None, 0, 7]


def test_a_stream_reports_its_last_usage_and_the_event_that_carried_it():
    request = RecordedRequest("POST", "http://127.0.0.1/v1", {}, {})
    events = [
        ServerSentEvent(index=0, data=json.dumps({"choices": [], "usage": {"prompt_tokens": 1}})),
        ServerSentEvent(index=1, data=json.dumps({"choices": [], "usage": {"prompt_tokens": 5,
                                                  "completion_tokens": 2}})),
        ServerSentEvent(index=2, data="[DONE]"),
    ]  # fmt: skip
    exchange = Exchange("chat_stream", request, 200, events=events, streamed=True)
    assert exchange.reported_usage() == ({"prompt_tokens": 5, "completion_tokens": 2}, 1)
    assert exchange.usage() == (5, 2)
    answer = read_answer(exchange)
    assert (answer.usage, answer.usage_mark.chunk_index) == exchange.reported_usage()
