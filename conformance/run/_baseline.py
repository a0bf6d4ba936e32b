"""CI gating: which findings fail the run (``--fail-on``) and which are already known
(``--baseline known.yaml``).

A finding's identity is ``(check, exchange, json_path, kind)``: the check's id, the
probe whose exchange showed it, where in the body or chunk, and the kind of failure
(``Finding.identity``). All four are stable across runs: a kind never carries a value from
the response (a title may: "answered with 503"), and an exchange is named after the probe
that sent it. Exploration's requests are generated from a seed, so its findings are
identified without the exchange. A baseline entry may leave out ``exchange``,
``json_path`` or ``kind`` to match any value there. Its ``title`` is for people; an entry
written before kinds existed (a ``title`` and no ``kind``) still matches by its title.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from conformance._errors import ConfigError
from conformance.contract._yamlfile import UnsafeYaml, load, read_regular
from conformance.run._results import EXIT_INCONCLUSIVE, EXIT_NONCONFORMANT, EXIT_OK
from conformance.run._scores import CONCLUDED, EXPLORATION, all_checks

BASELINE_VERSION = 1
# fail: broken MUSTs; warn: broken SHOULDs too; client: only findings that break a tested
# client (their ``impact``, measured by the client replay), whatever their severity.
FAIL_ON = ("fail", "warn", "client")
FIELDS = ("check", "exchange", "json_path", "kind", "title")
MATCHED = ("check", "exchange", "json_path", "kind")  # what identifies a finding

HEADER = """\
# conformance baseline: findings known and accepted for now.
# `conformance run --baseline THIS_FILE` does not fail on them; it fails on any new one,
# and reports entries that no longer occur as stale (they fail with --strict-baseline).
# A finding is identified by check + exchange + json_path + kind (exploration's, whose
# requests are generated, by check + json_path + kind); leave out exchange, json_path or
# kind in an entry to match any. `title` is for people: the values in it may change.
# `note` is yours: say why it is accepted.
"""


def identity(
    check_id: str, finding: Mapping[str, Any], *, generated: bool = False
) -> dict[str, str]:
    """The stable identity of one finding of ``check_id`` (a results.json finding), with
    its title for people (``title`` is not part of the identity: see :func:`same`).

    Exploration's requests are generated (their exchange ids depend on the seed), so a
    ``generated`` finding's identity leaves the exchange empty: check, path and kind.
    A finding from a results.json written before kinds existed has its title as its kind.
    """
    title = str(finding.get("title") or "")
    exchange = str(finding.get("exchange") or "").split("#", 1)[0]  # "stop_list#3": its probe
    return {
        "check": check_id,
        "exchange": "" if generated else exchange,
        "json_path": str(finding.get("json_path") or ""),
        "kind": str(finding.get("kind") or title),
        "title": title,
    }


def same(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Whether two identities name the same finding (titles may differ)."""
    return all(a.get(name) == b.get(name) for name in MATCHED)


def rate(finding: Mapping[str, Any]) -> str:
    """ "3 of 4" for a finding of a probe sent in several trials; "" for one sent once."""
    trials = finding.get("trials", 1)
    return f"{finding.get('seen', 1)} of {trials}" if isinstance(trials, int) and trials > 1 else ""


def finding_identity(check: Mapping[str, Any], finding: Mapping[str, Any]) -> dict[str, str]:
    """:func:`identity` for a finding of ``check`` (a results.json check)."""
    return identity(str(check.get("id")), finding, generated=check.get("area") == EXPLORATION)


@dataclass(frozen=True)
class Entry:
    """One known finding; ``None`` in a field matches anything."""

    check: str
    exchange: str | None = None
    json_path: str | None = None
    kind: str | None = None
    title: str | None = None  # for people; matched only by an entry without a kind (old files)
    note: str = ""
    seen: str = ""  # "2 of 4": in how many trials it was seen when written (--trials)

    def matches(self, ident: Mapping[str, str]) -> bool:
        last = ("kind", self.kind) if self.kind is not None else ("title", self.title)
        return all(
            want is None or want == ident[name]
            for name, want in (
                ("check", self.check),
                ("exchange", self.exchange),
                ("json_path", self.json_path),
                last,
            )
        )

    def to_dict(self) -> dict[str, str]:
        out = {name: getattr(self, name) for name in FIELDS if getattr(self, name) is not None}
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
                entry = Entry(
                    check=ident["check"],
                    exchange=ident["exchange"] or None,  # generated: any exchange
                    json_path=ident["json_path"],
                    kind=ident["kind"],
                    title=ident["title"],
                    seen=rate(finding),
                )
                entries.setdefault(tuple(ident[name] for name in MATCHED), entry)
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
    return (entry.check, entry.exchange, entry.json_path, entry.kind or entry.title)


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
        unknown = sorted(set(item) - {*FIELDS, "note", "severity", "seen"})
        if unknown:
            raise ConfigError(
                f"{where}: finding {number} has unknown field {unknown[0]!r}; expected {shape}."
            )
        values: dict[str, str | None] = {name: item.get(name) for name in FIELDS}
        bad = [n for n, v in values.items() if v is not None and not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{where}: finding {number}: `{bad[0]}` must be a string.")
        yield Entry(
            check=str(values["check"]),
            exchange=values["exchange"],
            json_path=values["json_path"],
            kind=values["kind"],
            title=values["title"],
            note=str(item.get("note") or ""),
            seen=str(item.get("seen") or ""),
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
        known: list[dict[str, str]] = []
        new: list[dict[str, str]] = []
        for check in checks:
            for finding in check.get("findings", []):
                ident = finding_identity(check, finding)
                hits = [i for i, e in enumerate(entries) if e.matches(ident)]
                used.update(hits)
                seen = {"seen": rate(finding)} if rate(finding) else {}
                if hits:
                    known.append({**ident, **seen})
                elif self.fail_on == "client":
                    if check.get("verdict") in ("FAIL", "WARN") and breaks_a_client(finding):
                        new.append({**ident, **seen})
                elif check.get("verdict") in failing:
                    new.append({**ident, **seen})
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
            "new": new,
            "known": known,
            "stale": stale,
            "unverified": unverified,
        }
        return gate, exit_code


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
            f"new finding: {ident['check']} [{ident['exchange']}] {ident['json_path']}: "
            f"{ident['title']}" + (f" (in {ident['seen']} trials)" if ident.get("seen") else "")
        )
    for entry in gate.get("stale", []):
        shown = [k for k in entry if k != "note" and not (k == "title" and "kind" in entry)]
        what = " ".join(f"{k}={entry[k]}" for k in shown)
        suffix = " (fails: --strict-baseline)" if gate.get("strict_baseline") else ""
        lines.append(f"stale baseline entry (no longer found): {what}{suffix}")
    return lines
