"""`--fail-on client`: the run fails only on findings that break a tested client (their
``impact``, measured by the client replay), whatever their severity."""

from __future__ import annotations

from conformance.run._baseline import Gate
from conformance.run._results import EXIT_NONCONFORMANT, EXIT_OK


def check(verdict: str, *impacts: list[dict[str, str]] | None) -> dict[str, object]:
    findings = []
    for number, breaks in enumerate(impacts):
        finding: dict[str, object] = {"kind": f"k{number}", "title": "t", "json_path": "$"}
        finding["exchange"] = "chat_stream"
        if breaks is not None:
            finding["impact"] = {"breaks": breaks, "reads": [], "summary": "s"}
        findings.append(finding)
    return {"id": f"c_{verdict}", "verdict": verdict, "findings": findings}


BREAK = [{"client": "openai-python", "version": "3.63.0", "mode": ".stream()", "what": "w"}]


def test_a_must_that_breaks_no_client_does_not_fail_the_run():
    gate, code = Gate(fail_on="client").decide([check("FAIL", []), check("PASS")])
    assert (code, gate["new"]) == (EXIT_OK, [])


def test_a_should_that_breaks_a_client_fails_the_run():
    gate, code = Gate(fail_on="client").decide([check("WARN", [], BREAK)])
    assert code == EXIT_NONCONFORMANT
    assert [n["kind"] for n in gate["new"]] == ["k1"]
    assert gate["fail_on"] == "client"


def test_without_the_replay_nothing_is_known_to_break_a_client():
    _, code = Gate(fail_on="client").decide([check("FAIL", None)])
    assert code == EXIT_OK
