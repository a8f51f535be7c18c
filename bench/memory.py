"""Measure the memory of a process that serves searches from a large index.

A web worker keeps one open searcher and the posting arrays it caches. This
script builds an index of generated briefs (or reuses one), then starts a fresh
Python process that only opens the index, loads jieba and runs queries, and
prints that process's resident memory after each step:

    .venv/bin/python -m bench.memory --index-dir /tmp/kb-mem-100k            # 100,000
    .venv/bin/python -m bench.memory --index-dir /tmp/kb-mem-20k --docs 20000

Building 100,000 documents takes about a quarter of an hour on two cores; an
existing index in ``--index-dir`` is reused.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from pathlib import Path

from bench.search import (
    DEFAULT_SEED,
    LARGE_DOCS,
    generate_queries,
    to_search_document,
)
from bench.textgen import TextGenerator

MB = 1_000_000


def rss_mb() -> float:
    """Resident set size of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


def build(index_dir: Path, count: int, seed: int) -> None:
    from kb.search.engine import SearchEngine
    from kb.search.indexer import BATCH_SIZE

    engine = SearchEngine(index_dir)
    if engine.doc_count():
        print(f"reusing {engine.doc_count():,} documents in {index_dir}")
        engine.close()
        return
    started = time.perf_counter()
    batch = []
    for number, doc in enumerate(TextGenerator(seed).documents(count), start=1):
        batch.append(to_search_document(doc))
        if len(batch) == BATCH_SIZE:
            engine.write(batch, [])
            batch = []
            print(f"\rindexed {number:,}", end="", file=sys.stderr, flush=True)
    engine.write(batch, [])
    elapsed = time.perf_counter() - started
    print(f"\nbuilt {count:,} documents in {elapsed:.0f} s ({count / elapsed:.0f}/s)")
    engine.close()


def measure(index_dir: Path, queries: int, seed: int) -> None:
    """Run in a fresh process: open the index as a web worker would."""
    print(f"after imports:             {rss_mb():7.1f} MB")
    from kb.search.analysis import load_dictionary
    from kb.search.engine import SearchEngine

    load_dictionary()
    print(f"jieba loaded:              {rss_mb():7.1f} MB")
    engine = SearchEngine(index_dir)
    print(f"index opened ({engine.doc_count():,} docs): {rss_mb():7.1f} MB")
    words = generate_queries(seed, queries)
    for round_number in (1, 2):
        times = []
        for q in words:
            started = time.perf_counter()
            engine.search(q, snippets=True)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p50 = times[math.ceil(0.50 * len(times)) - 1]
        p95 = times[math.ceil(0.95 * len(times)) - 1]
        print(
            f"after {len(words)} queries, round {round_number}: {rss_mb():7.1f} MB "
            f"(with snippets: p50 {p50:.1f} ms, p95 {p95:.1f} ms)"
        )
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--docs", type=int, default=LARGE_DOCS)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        measure(args.index_dir, args.queries, args.seed)
        return
    build(args.index_dir, args.docs, args.seed)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.memory",
            "--index-dir",
            str(args.index_dir),
            "--queries",
            str(args.queries),
            "--seed",
            str(args.seed),
            "--measure-only",
        ],
        check=True,
    )


if __name__ == "__main__":
    main()
