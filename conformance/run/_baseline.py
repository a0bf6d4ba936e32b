"""CI gating: which findings fail the run (``--fail-on``) and which are already known
(``--baseline known.yaml``).

A finding's identity is ``(check, json_path, kind)`` (``checks._model.finding_key``, the
one definition): the check that judged it, where in the body or chunk (array indices as
``[*]``) and the kind of failure. None of it depends on luck: a kind never carries a value
from the response (a title may: "answered with 503"), and neither the probe nor the trial
nor the re-ask that showed it is part of it (``probes`` lists them, for people). A finding
of exploration is identified by the check that judged the generated exchange, so it is
the same finding as the fixed probes' of the same root cause. A baseline entry may leave
out ``json_path`` or ``kind`` to match any value there. Its ``title``, ``exchange`` and
``probes`` are for people (files written before this rule carry ``exchange``: it is read
and no longer compared); an entry written before kinds existed (a ``title`` and no
``kind``) still matches by its title.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from conformance._errors import ConfigError
from conformance.checks._model import finding_key, path_family, probe_family
from conformance.contract._yamlfile import UnsafeYaml, load, read_regular
from conformance.run._results import EXIT_INCONCLUSIVE, EXIT_NONCONFORMANT, EXIT_OK
from conformance.run._scores import CONCLUDED, EXPLORATION, all_checks

BASELINE_VERSION = 1
# fail: broken MUSTs; warn: broken SHOULDs too; client: only findings that break a tested
# client (their ``impact``, measured by the client replay), whatever their severity.
FAIL_ON = ("fail", "warn", "client")
FIELDS = ("check", "exchange", "json_path", "kind", "title")  # the text fields of an entry
MATCHED = ("check", "json_path", "kind")  # what identifies a finding (model.finding_key)

HEADER = """\
# conformance baseline: findings known and accepted for now.
# `conformance run --baseline THIS_FILE` does not fail on them; it fails on any new one,
# and reports entries that no longer occur as stale (they fail with --strict-baseline).
# A finding is identified by check + json_path + kind, whichever probe, trial or
# generated request showed it; leave out json_path or kind in an entry to match any.
# `title` and `probes` are for people: the values in a title may change.
# `note` is yours: say why it is accepted.
"""


def identity(
    check_id: str, finding: Mapping[str, Any], *, generated: bool = False
) -> dict[str, Any]:
    """The stable identity of one finding of ``check_id`` (a results.json finding), with
    what rides along for people (``title``, ``probes``; not compared: see :func:`same`).

    A ``generated`` finding (exploration's) is identified by the check that judged its
    exchange (its ``check_id``), so that it is the finding of the same root cause the
    fixed probes show.
    A finding from a results.json written before kinds existed has its title as its kind;
    one written before ``probes`` existed has its exchange's probe family.
    """
    title = str(finding.get("title") or "")
    exchange = str(finding.get("exchange") or "")
    raw = finding.get("probes")
    probes = [str(p) for p in raw] if isinstance(raw, list) and raw else []
    if not probes and exchange:
        probes = [probe_family(exchange)]
    judged_by = str(finding.get("check_id") or "") if generated else ""
    check, json_path, kind = finding_key(
        judged_by or check_id,
        str(finding.get("json_path") or ""),
        str(finding.get("kind") or title),
    )
    return {
        "check": check,
        "json_path": json_path,
        "kind": kind,
        "title": title,
        "exchange": exchange,  # the example's, for people
        "probes": probes,
    }


def key(ident: Mapping[str, Any]) -> tuple[str, ...]:
    """The compared part of an identity (or of a ``gate`` record's entry, as stored)."""
    return finding_key(*(str(ident.get(name, "")) for name in MATCHED))


def same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two identities name the same finding (titles may differ)."""
    return all(a.get(name) == b.get(name) for name in MATCHED)


def rate(finding: Mapping[str, Any]) -> str:
    """ "3 of 4" for a finding of a probe sent in several trials; "" for one sent once."""
    trials = finding.get("trials", 1)
    return f"{finding.get('seen', 1)} of {trials}" if isinstance(trials, int) and trials > 1 else ""


def finding_identity(check: Mapping[str, Any], finding: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`identity` for a finding of ``check`` (a results.json check)."""
    return identity(str(check.get("id")), finding, generated=check.get("area") == EXPLORATION)


@dataclass(frozen=True)
class Entry:
    """One known finding; ``None`` in a field matches anything."""

    check: str
    exchange: str | None = None  # for people: files written before probes were merged
    json_path: str | None = None
    kind: str | None = None
    title: str | None = None  # for people; matched only by an entry without a kind (old files)
    note: str = ""
    seen: str = ""  # "2 of 4": in how many trials it was seen when written (--trials)
    probes: tuple[str, ...] = ()  # for people: the probes that showed it when written

    def matches(self, ident: Mapping[str, Any], holder: str = "") -> bool:
        """Whether this entry names the finding ``ident`` (:func:`identity`). The entry's
        check may be the judging check or, as old files wrote exploration's findings, the
        results.json check ``holder`` listing it; its exchange is not compared."""
        if self.check not in (ident["check"], holder or ident["check"]):
            return False
        if self.json_path is not None and path_family(self.json_path) != ident["json_path"]:
            return False
        if self.kind is not None:
            return self.kind == str(ident["kind"])
        return self.title is None or self.title == str(ident["title"])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: getattr(self, name) for name in FIELDS if getattr(self, name) is not None
        }
        if self.probes:
            out["probes"] = list(self.probes)
        if self.seen:
            out["seen"] = self.seen
        if self.note:
            out["note"] = self.note
        return out

    @property
    def intermittent(self) -> bool:
        """Seen in some trials only when written: a run without it does not prove it gone."""
        seen, _, trials = self.seen.partition(" of ")
        return seen.isdigit() and trials.isdigit() and int(seen) < int(trials)


@dataclass(frozen=True)
class Baseline:
    """The known findings, read from a YAML file (``path`` as the user gave it)."""

    entries: tuple[Entry, ...]
    path: str = ""

    @classmethod
    def load(cls, path: Path) -> Baseline:
        """Read a baseline file; ``ConfigError`` naming the file and the fix if it is bad."""
        where = f"--baseline {str(path)!r}"
        fix = (
            "Write one from a run with `conformance baseline write reports/results.json "
            f"-o {path}`, or fix the path."
        )
        try:
            text = read_regular(path).decode("utf-8")
            raw = load(text)
        except FileNotFoundError:
            raise ConfigError(f"{where}: no such file. {fix}") from None
        except UnsafeYaml as exc:
            raise ConfigError(f"{where} {exc}. {fix}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where} cannot be read: {exc}. {fix}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"{where} is not valid YAML{line}. Fix the file, or write it again with "
                "`conformance baseline write`."
            ) from None
        return cls(entries=tuple(_entries(raw, where)), path=str(path))

    @classmethod
    def from_results(cls, data: Mapping[str, Any], *, include_warn: bool = True) -> Baseline:
        """Every FAIL finding of a run (and WARN unless ``include_warn`` is false)."""
        verdicts = {"FAIL", "WARN"} if include_warn else {"FAIL"}
        entries: dict[tuple[str, ...], Entry] = {}
        for check in all_checks(data):
            if check.get("verdict") not in verdicts:
                continue
            for finding in check.get("findings", []):
                ident = finding_identity(check, finding)
                earlier = entries.get(key(ident))
                probes = tuple(ident["probes"])
                if earlier is not None:  # the same root cause, shown by exploration too
                    more = tuple(p for p in probes if p not in earlier.probes)
                    entries[key(ident)] = replace(earlier, probes=earlier.probes + more)
                    continue
                entries[key(ident)] = Entry(
                    check=ident["check"],
                    json_path=ident["json_path"],
                    kind=ident["kind"],
                    title=ident["title"],
                    seen=rate(finding),
                    probes=probes,
                )
        return cls(entries=tuple(entries.values()))

    def with_notes_from(self, older: Baseline) -> tuple[Baseline, int]:
        """This baseline with the notes of ``older``'s entries for the same findings (a
        rewritten baseline keeps why each finding was accepted); and how many were kept."""
        notes = {_key(e): e.note for e in older.entries if e.note}
        entries = tuple(replace(e, note=notes.get(_key(e), e.note)) for e in self.entries)
        kept = sum(1 for e in entries if _key(e) in notes)
        return replace(self, entries=entries), kept

    def dump(self, source: Mapping[str, Any] | None = None) -> str:
        """The baseline as YAML, with a header saying how it is used."""
        doc: dict[str, Any] = {"version": BASELINE_VERSION}
        if source is not None:
            doc["written_from"] = {
                "endpoint": source.get("endpoint", {}).get("base_url", ""),
                "model": source.get("model", ""),
                "profile": source.get("profile", ""),
                "started_at": source.get("started_at", ""),
            }
        doc["findings"] = [e.to_dict() for e in self.entries]
        body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
        return HEADER + body


def _key(entry: Entry) -> tuple[str | None, ...]:
    path = None if entry.json_path is None else path_family(entry.json_path)
    return (entry.check, path, entry.kind or entry.title)


def _entries(raw: Any, where: str) -> Iterable[Entry]:
    shape = (
        "a mapping with `version: 1` and `findings:`, a list of entries each with `check` "
        "and optionally `exchange`, `json_path`, `kind`, `title` and `note`"
    )
    # One rule for every wrong shape (an empty file, `known: [...]`, `findings: 5`): refused.
    # A baseline that knows nothing says so: `findings: []`.
    if raw is None:
        raise ConfigError(
            f"{where} is empty; expected {shape} (`findings: []` when nothing is known yet)."
        )
    if not isinstance(raw, Mapping) or not isinstance(raw.get("findings"), list):
        raise ConfigError(f"{where} is not a baseline: expected {shape}.")
    extra = sorted(str(k) for k in set(raw) - {"version", "written_from", "findings"})
    if extra:
        raise ConfigError(f"{where} has unknown top-level field {extra[0]!r}; expected {shape}.")
    version = raw.get("version", BASELINE_VERSION)
    if version != BASELINE_VERSION:
        raise ConfigError(
            f"{where} has version {version!r}; this conformance reads version "
            f"{BASELINE_VERSION}. Write it again with `conformance baseline write`."
        )
    for number, item in enumerate(raw.get("findings") or [], start=1):
        if not isinstance(item, Mapping) or not isinstance(item.get("check"), str):
            raise ConfigError(
                f"{where}: finding {number} has no `check` (a check id such as "
                f"usage_arithmetic); expected {shape}."
            )
        unknown = sorted(set(item) - {*FIELDS, "note", "severity", "seen", "probes"})
        if unknown:
            raise ConfigError(
                f"{where}: finding {number} has unknown field {unknown[0]!r}; expected {shape}."
            )
        values: dict[str, str | None] = {name: item.get(name) for name in FIELDS}
        bad = [n for n, v in values.items() if v is not None and not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{where}: finding {number}: `{bad[0]}` must be a string.")
        probes = item.get("probes") or []
        if not isinstance(probes, list) or not all(isinstance(p, str) for p in probes):
            raise ConfigError(f"{where}: finding {number}: `probes` must be a list of probe ids.")
        yield Entry(
            check=str(values["check"]),
            exchange=values["exchange"],
            json_path=values["json_path"],
            kind=values["kind"],
            title=values["title"],
            note=str(item.get("note") or ""),
            seen=str(item.get("seen") or ""),
            probes=tuple(probes),
        )


@dataclass(frozen=True)
class Gate:
    """What fails the run: FAIL (or also WARN) findings the baseline does not know; with
    ``strict_baseline``, also baseline entries that no longer occur."""

    fail_on: str = "fail"
    baseline: Baseline | None = None
    strict_baseline: bool = False

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise ConfigError(
                f"--fail-on {self.fail_on!r} is unknown; use 'fail', 'warn' or 'client'."
            )

    def apply(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Results data (a stored results.json) judged again by this policy: a copy with its
        ``gate`` and ``exit_code`` decided here."""
        gate, exit_code = self.decide(all_checks(data))
        return {**data, "exit_code": exit_code, "gate": gate}

    def decide(self, checks: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], int]:
        """The ``gate`` record of a run's ``checks`` (results.json's) and its exit code."""
        failing = {"FAIL", "WARN"} if self.fail_on == "warn" else {"FAIL"}
        entries = self.baseline.entries if self.baseline is not None else ()
        used: set[int] = set()
        known: dict[tuple[str, ...], dict[str, Any]] = {}
        new: dict[tuple[str, ...], dict[str, Any]] = {}
        for check in checks:
            for finding in check.get("findings", []):
                ident = finding_identity(check, finding)
                holder = str(check.get("id"))
                hits = [i for i, e in enumerate(entries) if e.matches(ident, holder)]
                used.update(hits)
                if hits:
                    _note(known, ident, finding)
                elif self.fail_on == "client":
                    if check.get("verdict") in ("FAIL", "WARN") and breaks_a_client(finding):
                        _note(new, ident, finding)
                elif check.get("verdict") in failing:
                    _note(new, ident, finding)
        verdicts = {str(c.get("id")): c.get("verdict") for c in checks}
        # An entry seen in some trials only is not stale for missing from one run.
        gone = {
            i
            for i, e in enumerate(entries)
            if i not in used and verdicts.get(e.check) in CONCLUDED and not e.intermittent
        }
        stale = [e.to_dict() for i, e in enumerate(entries) if i in gone]
        unverified = [e.to_dict() for i, e in enumerate(entries) if i not in used and i not in gone]
        if new or (self.strict_baseline and stale):
            exit_code = EXIT_NONCONFORMANT
        elif not checks or "ERROR" in verdicts.values():
            exit_code = EXIT_INCONCLUSIVE
        else:
            exit_code = EXIT_OK
        gate = {
            "fail_on": self.fail_on,
            "baseline": self.baseline.path if self.baseline is not None else None,
            "strict_baseline": self.strict_baseline,
            "new": list(new.values()),
            "known": list(known.values()),
            "stale": stale,
            "unverified": unverified,
        }
        return gate, exit_code


def _note(
    into: dict[tuple[str, ...], dict[str, Any]], ident: dict[str, Any], finding: Mapping[str, Any]
) -> None:
    """Record ``ident`` in ``into`` once per identity: a root cause that several checks'
    rows show (a fixed probe's and exploration's) is one entry listing every probe."""
    earlier = into.get(key(ident))
    if earlier is None:
        seen = {"seen": rate(finding)} if rate(finding) else {}
        into[key(ident)] = {**ident, **seen}
        return
    earlier["probes"] += [p for p in ident["probes"] if p not in earlier["probes"]]


def warn_gate_line(data: Mapping[str, Any]) -> str | None:
    """The line that says a WARN failed the run (``--fail-on warn``): the verdict line says
    "conformant", the exit code 1, and this says why. None when no WARN failed it."""
    gate = data.get("gate") or {}
    if gate.get("fail_on") != "warn" or data.get("exit_code") != EXIT_NONCONFORMANT:
        return None
    new = {str(n.get("check")) for n in gate.get("new", [])}
    warned = [
        str(c.get("id"))
        for c in all_checks(data)
        if c.get("verdict") == "WARN"
        and ({str(c.get("id"))} | {str(f.get("check_id")) for f in c.get("findings", [])}) & new
    ]
    if not warned:
        return None
    n = len(warned)
    return (
        f"the gate failed the run: --fail-on warn, and {n} WARN{'s' if n > 1 else ''} "
        f"(a broken SHOULD) {'are' if n > 1 else 'is'} not in a baseline: {', '.join(warned)}"
    )


def breaks_a_client(finding: Mapping[str, Any]) -> bool:
    """True when the client replay linked a client break to this finding (results.json)."""
    impact = finding.get("impact")
    return isinstance(impact, Mapping) and bool(impact.get("breaks"))


def gate_summary(gate: Mapping[str, Any]) -> list[str]:
    """Lines for the terminal: what the gate decided and why."""
    lines = []
    if gate.get("baseline"):
        lines.append(
            f"baseline {gate['baseline']}: {len(gate['known'])} known, "
            f"{len(gate['new'])} new, {len(gate['stale'])} stale"
            + (f", {len(gate['unverified'])} not checked this run" if gate["unverified"] else "")
        )
    for ident in gate.get("new", []) if gate.get("baseline") else []:
        lines.append(
            f"new finding: {ident['check']} [{', '.join(ident['probes'])}] {ident['json_path']}: "
            f"{ident['title']}" + (f" (in {ident['seen']} trials)" if ident.get("seen") else "")
        )
    for entry in gate.get("stale", []):
        shown = [
            k
            for k in entry
            if k not in ("note", "probes", "exchange") and not (k == "title" and "kind" in entry)
        ]
        what = " ".join(f"{k}={entry[k]}" for k in shown)
        suffix = " (fails: --strict-baseline)" if gate.get("strict_baseline") else ""
        lines.append(f"stale baseline entry (no longer found): {what}{suffix}")
    return lines
