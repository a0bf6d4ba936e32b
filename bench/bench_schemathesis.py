"""Plain `schemathesis run` against schemathesis with our extension, on the reference server's
defect switches: defects found, and false failures on the clean server. Prints numbers.

Each run is a `schemathesis run` process of the vendored document against `conformance serve
--defect X` on 127.0.0.1, as a user runs it:

- plain: schemathesis's own checks on the document as written (server: strict profile). The
  extension is loaded for its request hook only (`--exclude-checks conformance`, profile
  strict): it pins the model the server serves, without which every request is a 404.
- extension: `SCHEMATHESIS_HOOKS=conformance.contrib.schemathesis` with `CONFORMANCE_PROFILE=openai`
  (server: openai profile, whose request validation reads the same relaxed document).

A defect counts as found when its run reports a failure kind (schemathesis's summary line:
code and title) that the clean run of the same mode did not report; the clean run's kinds are
that mode's false failures. Bounded: `--examples` per phase, `--timeout` seconds per run.

    PYTHONPATH=. python3 bench/bench_schemathesis.py --defects bad-usage-total,no-done
    PYTHONPATH=. python3 bench/bench_schemathesis.py --all        # every defect (~50 min)
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

from conformance.contract._spec import default_spec_path

KEY = "sk-bench-schemathesis-0001"
MODEL = "conformance/reference-1"
SUBSET = (
    "accept-any-key,bad-finish-reason,bad-usage-total,cached-over-prompt,data-after-done,"
    "double-finish,glued-events,html-error-page,invalid-request-200,invalid-request-500,"
    "missing-chunk-id,no-done,stream-json-content-type,unrequested-usage,"
    "usage-chunk-with-choices,wrong-object"
)
FAILURE_LINE = re.compile(r"^\s*❌ (ST\d+ .+): \d+$")
MODES = {
    "plain": {"profile": "strict", "extra": ["--exclude-checks", "conformance"]},
    "extension": {"profile": "openai", "extra": []},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int, profile: str, defect: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "conformance", "serve", "--port", str(port)]
    args += ["--api-key", KEY, "--profile", profile]
    if defect:
        args += ["--defect", defect]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit(f"conformance serve --defect {defect} did not start") from None
            time.sleep(0.2)


def run(mode: str, defect: str | None, examples: int, timeout: float, seed: int) -> set[str]:
    """The failure kinds one `schemathesis run` reports ({"TIMEOUT"} when it ran out)."""
    port = _free_port()
    server = _serve(port, MODES[mode]["profile"], defect)
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "conformance.contrib.schemathesis",
        "CONFORMANCE_PROFILE": str(MODES[mode]["profile"]),
        "CONFORMANCE_MODEL": MODEL,
    }
    args = ["schemathesis", "run", str(default_spec_path()), "--no-color"]
    args += ["--url", f"http://127.0.0.1:{port}", "-H", f"Authorization: Bearer {KEY}"]
    args += ["-n", str(examples), "--seed", str(seed), *MODES[mode]["extra"]]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(  # noqa: S603
                args, env=env, cwd=tmp, capture_output=True, text=True, timeout=timeout, check=False
            )
    except subprocess.TimeoutExpired:
        return {"TIMEOUT"}
    finally:
        server.terminate()
        server.wait(10)
    return {m.group(1) for line in done.stdout.splitlines() if (m := FAILURE_LINE.match(line))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--defects", default=SUBSET, help="comma-separated defect names")
    parser.add_argument("--all", action="store_true", help="every defect of `conformance defects`")
    parser.add_argument("--examples", type=int, default=10, help="schemathesis -n (per phase)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds per run")
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args()
    if opts.all:
        from conformance.server import DEFECTS

        defects = sorted(DEFECTS)
    else:
        defects = [d for d in opts.defects.split(",") if d]
    started = time.monotonic()
    clean = {mode: run(mode, None, opts.examples, opts.timeout, opts.seed) for mode in MODES}
    for mode, kinds in clean.items():
        print(f"clean server, {mode}: {len(kinds)} false failure kind(s) {sorted(kinds)}")
    found = dict.fromkeys(MODES, 0)
    print(f"{'defect':34} {'plain':>6} {'extension':>10}  new failure kinds (extension)")
    for defect in defects:
        row = {}
        for mode in MODES:
            kinds = run(mode, defect, opts.examples, opts.timeout, opts.seed) - clean[mode]
            row[mode] = kinds
            found[mode] += bool(kinds)
        marks = ["yes" if row[m] else "-" for m in MODES]
        print(f"{defect:34} {marks[0]:>6} {marks[1]:>10}  {'; '.join(sorted(row['extension']))}")
    total = len(defects)
    for mode in MODES:
        print(
            f"{mode}: {found[mode]}/{total} defects found, {len(clean[mode])} false failure kinds"
        )
    print(f"examples={opts.examples} seed={opts.seed} in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
