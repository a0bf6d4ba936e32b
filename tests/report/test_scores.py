"""Per-area scores: exploration's area (the one its properties are registered under) comes last."""

from __future__ import annotations

from conformance.explore import PROPERTIES
from conformance.run._scores import area_order, area_scores


def test_the_area_of_exploration_properties_is_listed_last_and_scored():
    area = PROPERTIES[0].area
    checks = [
        {"id": "p", "area": area, "verdict": "FAIL"},
        {"id": "a", "area": "usage", "verdict": "PASS"},
        {"id": "b", "area": "streaming", "verdict": "SKIP"},
    ]
    assert area_order(checks) == ["usage", "streaming", area]
    assert [(s.area, s.label()) for s in area_scores(checks)] == [
        ("usage", "100% (1 of 1)"),
        ("streaming", "n/a"),
        (area, "0% (0 of 1)"),
    ]


def test_an_area_with_errors_is_not_full_and_says_how_many_were_inconclusive():
    checks = [
        {"id": "a", "area": "http", "verdict": "PASS"},
        {"id": "b", "area": "http", "verdict": "ERROR"},
        {"id": "c", "area": "streaming", "verdict": "ERROR"},
        {"id": "d", "area": "streaming", "verdict": "ERROR"},
        {"id": "e", "area": "streaming", "verdict": "SKIP"},
    ]
    assert [(s.area, s.label()) for s in area_scores(checks)] == [
        ("http", "50% (1 of 2, 1 ERROR)"),
        ("streaming", "inconclusive (2 ERROR)"),
    ]
