"""``-k EXPR``: which checks it selects, found before any request is sent.

The suite's items are ``test_check[<check id>]`` and ``test_explore[<property id>]``
(``conformance/suite.py``); pytest's ``-k`` matches a word case-insensitively inside an
item's name, its module's (``suite.py``) or its markers'. The same expression evaluated here
on the same names says whether the run would judge anything: an expression that selects
nothing is a usage error naming the closest check ids (``difflib``), not a run that sends
the preflight request and concludes "0 checks".
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from conformance.checks import registered_checks
from conformance.explore import PROPERTIES

CLOSEST = 3
_WORD = re.compile(r"[\w\[\]./-]+")
_OPERATORS = {"and", "or", "not", "true", "false", "none"}


def selected(select: str, phase: str) -> list[str]:
    """The check and property ids that ``-k select`` selects in ``phase``; ``ValueError``
    with pytest's words when the expression does not parse."""
    from _pytest.mark.expression import Expression  # pytest's own -k grammar, lazily

    from conformance.plugin import EXPLORE_MARKER, MARKER

    try:
        expression = Expression.compile(select)
    except SyntaxError as exc:
        raise ValueError(exc.msg) from None
    items = []
    if phase != "explore":
        items += [(c.id, f"test_check[{c.id}]", MARKER) for c in registered_checks()]
    if phase != "checks":
        items += [(p.id, f"test_explore[{p.id}]", EXPLORE_MARKER) for p in PROPERTIES]
    out = []
    for item_id, name, marker in items:
        names = (name, "suite.py", marker, "parametrize")

        def matcher(word: str, /, **kwargs: Any) -> bool:
            return not kwargs and any(word.lower() in n.lower() for n in names)  # noqa: B023

        if expression.evaluate(matcher):
            out.append(item_id)
    return out


def select_problem(select: str | None, phase: str) -> str | None:
    """The usage error for a ``-k`` that selects nothing in ``phase``; None when it selects
    something (or is not given)."""
    if select is None:
        return None
    where = f"-k {select!r}"
    try:
        if selected(select, phase):
            return None
    except ValueError as exc:
        return (
            f"{where} is not a valid expression: {exc}. Use pytest -k syntax, e.g. "
            "-k 'usage and not stream'."
        )
    ids = [c.id for c in registered_checks()] + [p.id for p in PROPERTIES]
    words = [w for w in _WORD.findall(select) if w.lower() not in _OPERATORS]
    close: list[str] = []
    for word in words:
        close += [
            c for c in difflib.get_close_matches(word, ids, n=CLOSEST, cutoff=0.5) if c not in close
        ]
    hint = f" The closest check ids: {', '.join(close[:CLOSEST])}." if close else ""
    if phase != "all" and selected(select, "all"):
        other = "explore" if phase == "checks" else "checks"
        hint = f" It selects only checks of the {other} phase: add --phase {other} or --phase all."
    return (
        f"{where} matches no check{'' if phase == 'all' else f' of --phase {phase}'}.{hint} "
        "`conformance checks` lists them all."
    )
