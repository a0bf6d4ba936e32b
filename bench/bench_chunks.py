"""Chunk validation on the hot path: chunks validated per second, happy and unhappy.

python3 -m bench.bench_chunks
"""

from __future__ import annotations

import time

from bench._common import chunk
from conformance.contract._spec import default_contract

N = 20_000


def main() -> None:
    validator = default_contract().validator("ChatCompletionChunk")
    chunks = [chunk(i) for i in range(N)]
    assert validator.validate(chunks[0]) == []
    for c in chunks[:200]:  # warm up
        validator.validate(c)
    started = time.perf_counter()
    for c in chunks:
        validator.validate(c)
    valid = time.perf_counter() - started
    bad = [dict(c, choices=[dict(c["choices"][0], index="0")], created="x") for c in chunks[:500]]
    started = time.perf_counter()
    found = [validator.validate(c) for c in bad]
    invalid = time.perf_counter() - started
    print(
        f"valid chunks:   {N / valid:,.0f} chunks/s, {valid / N * 1e6:.2f} us each (target < 10 us)"
    )
    print(
        f"invalid chunks: {len(bad) / invalid:,.0f} chunks/s, {invalid / len(bad) * 1e6:.0f} us "
        f"each, {len(found[0])} violations with paths, e.g. {found[0][0].summary!r}"
    )


if __name__ == "__main__":
    main()
