"""What exploration costs next to a plain `schemathesis run` of the same document, both
against the reference server (each in its own process, as a user runs them).

    python3 -m bench.bench_explore [--seed 1] [--examples 100]

Ours: one `conformance run --phase explore` with default settings: requests, prompt and
completion tokens (from results.json) and wall time.

schemathesis: `schemathesis run` of the vendored document against `conformance serve`;
every request body it sent is read back from its HAR file, and its worst-case billable
tokens computed from those bodies: for each schema-valid request (the ones a conforming
endpoint serves and bills), n x max(max_tokens, max_completion_tokens) + a prompt estimate
(4 tokens per 3 words of the messages); a request with neither cap is counted at 4096, a
common default output limit, and such requests are counted apart.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from conformance.contract._spec import default_contract, default_spec_path

UNCAPPED = 4096
KEY = "sk-bench-explore-0001"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OPENAI_"))}


def ours(seed: int, examples: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "conformance", "run", "-q", "--phase", "explore"]
        args += ["--seed", str(seed), "--examples", str(examples), "--report-dir", tmp]
        started = time.perf_counter()
        proc = subprocess.run(  # noqa: S603 - our own command
            args, capture_output=True, text=True, env=_env(), check=False
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"conformance run failed ({proc.returncode}):\n{proc.stderr}")
        data = json.loads((Path(tmp) / "results.json").read_text())
    spent = data["phases"]["explore"]
    return {
        "requests": spent["requests"],
        "prompt": spent["tokens"]["prompt"],
        "completion": spent["tokens"]["completion"],
        "worst_case": _our_worst_case(data),
        "wall_s": wall,
    }


def _our_worst_case(data: dict[str, Any]) -> int:
    """Our own caps bound every request: n <= 2 and 16 tokens each, plus the prompt."""
    shaping = data["explore"]["shaping"]
    per_request = shaping["n"] * shaping["max_tokens"]
    return int(data["phases"]["explore"]["requests"] * per_request + data["tokens"]["prompt"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def schemathesis(seed: int) -> dict[str, Any]:
    port = _free_port()
    env = {**_env(), "CONFORMANCE_SERVER_API_KEY": KEY}
    server = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "conformance", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("conformance serve did not start within 30 s") from None
                time.sleep(0.05)
        with tempfile.TemporaryDirectory() as tmp:
            har = Path(tmp) / "run.har"
            args = ["schemathesis", "run", str(default_spec_path())]
            args += ["--url", f"http://127.0.0.1:{port}", "-H", f"Authorization: Bearer {KEY}"]
            args += ["--seed", str(seed), "--report", "har", "--report-har-path", str(har)]
            args += ["--report-dir", tmp, "--continue-on-failure", "--output-sanitize", "false"]
            started = time.perf_counter()
            subprocess.run(args, capture_output=True, text=True, env=env, check=False)  # noqa: S603
            wall = time.perf_counter() - started
            entries = json.loads(har.read_text())["log"]["entries"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {**_bill(entries), "wall_s": wall}


def _bill(entries: list[dict[str, Any]]) -> dict[str, Any]:
    validator = default_contract().validator("ChatCompletionRequest")
    worst = prompt = completion = valid = uncapped = 0
    for entry in entries:
        text = (entry["request"].get("postData") or {}).get("text") or ""
        try:
            body = json.loads(text)
        except ValueError:
            continue
        usage = _usage(entry)
        prompt += usage[0]
        completion += usage[1]
        if not isinstance(body, dict) or validator.validate(body):
            continue
        valid += 1
        n = body.get("n") if isinstance(body.get("n"), int) else 1
        caps = [body.get(k) for k in ("max_tokens", "max_completion_tokens")]
        ints = [c for c in caps if isinstance(c, int)]
        if not ints:
            uncapped += 1
        words = len(json.dumps(body.get("messages", "")).split())
        worst += n * (max(ints) if ints else UNCAPPED) + (words * 4 + 2) // 3
    return {
        "requests": len(entries),
        "valid": valid,
        "uncapped": uncapped,
        "prompt": prompt,
        "completion": completion,
        "worst_case": worst,
    }


def _usage(entry: dict[str, Any]) -> tuple[int, int]:
    text = (entry.get("response", {}).get("content") or {}).get("text") or ""
    try:
        usage = json.loads(text).get("usage") or {}
        return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    except (ValueError, AttributeError, TypeError):
        return 0, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument(
        "--schemathesis-runs",
        type=int,
        default=3,
        help="schemathesis runs differ even with the same --seed; each is printed",
    )
    args = parser.parse_args()
    mine = ours(args.seed, args.examples)
    theirs = [schemathesis(args.seed) for _ in range(args.schemathesis_runs)]
    head = (
        f"{'':34}{'requests':>9}{'prompt':>8}{'completion':>11}{'worst-case tokens':>28}{'wall':>8}"
    )
    print(head)
    rows = [("conformance run --phase explore", mine)]
    rows += [(f"schemathesis run #{i + 1}", row) for i, row in enumerate(theirs)]
    for name, row in rows:
        print(
            f"{name:34}{row['requests']:>9}{row['prompt']:>8}{row['completion']:>11}"
            f"{row['worst_case']:>28,}{row['wall_s']:>7.1f}s"
        )
    for i, row in enumerate(theirs):
        print(
            f"schemathesis #{i + 1}: {row['valid']} schema-valid requests, {row['uncapped']} "
            f"with no max_tokens (counted at {UNCAPPED})"
        )
    print("prompt/completion: as the reference server reported them (it serves only its model)")
    worst = sorted(row["worst_case"] for row in theirs)
    low, mid = (
        worst[0] / max(1, mine["worst_case"]),
        worst[len(worst) // 2] / max(1, mine["worst_case"]),
    )
    print(f"worst-case billable tokens, schemathesis / ours: lowest {low:,.0f}x, median {mid:.2e}x")


if __name__ == "__main__":
    main()
