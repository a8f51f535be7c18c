"""Benchmark the search engine against two SQLite baselines on generated briefs.

Run from the repository root, one benchmark at a time:

    .venv/bin/python -m bench.search               # 20,000 documents
    .venv/bin/python -m bench.search --large       # 100,000 documents
    .venv/bin/python -m bench.search --docs 2000   # any number of documents

The same generated documents (bench.textgen, fixed seed) are indexed three ways,
and the same queries of one to three words run against each:

* kb: kb.search.engine.SearchEngine, written in batches as kb.search.indexer does.
  Queries are timed without snippets and with highlighted snippets for page 1.
* LIKE: a SQLite table scanned with ``LIKE '%word%'`` on title or body, where every
  word must match (AND). It counts all matches and returns the newest 20. Its
  totals are the ground truth for substring recall.
* FTS5: SQLite FTS5 over title and body cut by jieba.cut_for_search and joined by
  spaces. Each query word is cut by jieba.cut and the tokens are ANDed as quoted
  phrases. It counts all matches and returns the top 20 by bm25.

The report goes to standard output and progress to standard error.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import resource
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import jieba

from bench.textgen import GeneratedDoc, TextGenerator
from kb.search.analysis import load_dictionary
from kb.search.documents import SearchDocument
from kb.search.engine import SearchEngine
from kb.search.indexer import BATCH_SIZE

DEFAULT_DOCS = 20_000
LARGE_DOCS = 100_000
DEFAULT_QUERIES = 200
WARMUP_QUERIES = 10
PER_PAGE = 20
DEFAULT_SEED = 20240601
MAX_EXAMPLES = 5
MB = 1_000_000


# -- small helpers -----------------------------------------------------------


def batched(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (``fraction`` 0.5 = p50)."""
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def directory_size(path: Path) -> int:
    """Return the apparent size in bytes of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def current_rss_mb() -> float:
    """Return the resident set size (VmRSS in /proc/self/status) in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / MB
    raise RuntimeError("VmRSS is missing from /proc/self/status")


def peak_rss_mb() -> float:
    """Return the peak resident set size of this process in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- documents ---------------------------------------------------------------


def generate(seed: int, count: int) -> Iterator[GeneratedDoc]:
    """Yield the benchmark documents, the same ones on every call with ``seed``."""
    return TextGenerator(seed).documents(count)


def generate_queries(seed: int, count: int) -> list[str]:
    generator = TextGenerator(seed)
    return [generator.query() for _ in range(count)]


def to_search_document(doc: GeneratedDoc) -> SearchDocument:
    """Build the index entry of ``doc`` the way kb.articles.search builds one."""
    # A division code also carries its section (门类), the code's first letter.
    codes = tuple(
        dict.fromkeys(part for code in doc.industry_codes for part in (code, code[0]))
    )
    return SearchDocument(
        doc_id=f"article:{doc.number}",
        type="article",
        record_id=doc.number,
        title=doc.title,
        summary=doc.summary,
        body=doc.body,
        url=f"/briefs/{doc.number}",
        published_at=doc.published_at,
        version=f"bench-{doc.number}",
        tags=doc.tags,
        industry_codes=codes,
        industry_names=doc.industry_names,
        acl=("all",),
    )


# -- results -----------------------------------------------------------------


@dataclass
class BuildResult:
    """Time and disk size of building one index."""

    name: str
    seconds: float
    documents: int
    size_bytes: int

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


@dataclass
class QueryRun:
    """Latency in seconds and total hits of each timed query, in query order."""

    name: str
    seconds: list[float] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)

    def p50_ms(self, indices: Iterable[int] | None = None) -> float:
        return percentile(self._select(indices), 0.50) * 1000

    def p95_ms(self, indices: Iterable[int] | None = None) -> float:
        return percentile(self._select(indices), 0.95) * 1000

    def _select(self, indices: Iterable[int] | None) -> list[float]:
        if indices is None:
            return self.seconds
        return [self.seconds[i] for i in indices]


def time_queries(
    name: str,
    search: Callable[[str], int],
    queries: list[str],
    warmup: list[str],
) -> QueryRun:
    """Run ``warmup`` untimed, then time each query. ``search`` returns the total."""
    for query in warmup:
        search(query)
    run = QueryRun(name)
    for query in queries:
        start = time.perf_counter()
        total = search(query)
        run.seconds.append(time.perf_counter() - start)
        run.totals.append(total)
    return run


# -- kb engine ---------------------------------------------------------------


def build_kb(index_dir: Path, jieba_cache: Path, seed: int, count: int) -> BuildResult:
    """Index ``count`` documents through SearchEngine.write in indexer-sized batches.

    The time covers opening the index, every write and closing it. Generating the
    documents and building SearchDocument records is not timed.
    """
    elapsed = 0.0
    start = time.perf_counter()
    engine = SearchEngine(str(index_dir), str(jieba_cache))
    elapsed += time.perf_counter() - start
    written = 0
    for batch in batched(generate(seed, count), BATCH_SIZE):
        upserts = [to_search_document(doc) for doc in batch]
        start = time.perf_counter()
        engine.write(upserts, [])
        elapsed += time.perf_counter() - start
        written += len(batch)
        if written % 10_000 == 0:
            progress(f"kb: indexed {written:,} documents in {elapsed:.1f} s")
    indexed = engine.doc_count()
    start = time.perf_counter()
    engine.close()
    elapsed += time.perf_counter() - start
    if indexed != count:
        progress(f"WARNING: kb index holds {indexed:,} documents, expected {count:,}")
    return BuildResult("kb SearchEngine", elapsed, indexed, directory_size(index_dir))


def kb_search(engine: SearchEngine, snippets: bool) -> Callable[[str], int]:
    def search(query: str) -> int:
        page = engine.search(query, page=1, per_page=PER_PAGE, snippets=snippets)
        return page.total

    return search


def kb_doc_numbers(engine: SearchEngine, query: str, total: int) -> set[int]:
    """Return the record ids of every kb hit for ``query``, in one page of ``total``."""
    page = engine.search(query, page=1, per_page=max(total, 1), snippets=False)
    return {hit.record_id for hit in page.hits}


# -- SQLite LIKE peer ----------------------------------------------------------


class LikePeer:
    """A SQLite table of title, body and date, searched with ``LIKE '%word%'``.

    The other fields that kb indexes (summary, tags, industry names) go to a
    separate database file, which the timed scan never reads. They only explain
    differences between kb totals and LIKE totals.
    """

    name = "SQLite LIKE"

    def __init__(self, path: Path, fields_path: Path):
        self.path = path
        self.characters = 0
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT NOT NULL,"
            " body TEXT NOT NULL, published_at TEXT NOT NULL)"
        )
        self.db.execute("CREATE INDEX docs_published_at ON docs (published_at)")
        self.db.commit()
        self.db.execute("ATTACH DATABASE ? AS extra", (str(fields_path),))
        self.db.execute(
            "CREATE TABLE extra.fields (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"
        )
        self.db.commit()

    def build(self, documents: Iterable[GeneratedDoc]) -> BuildResult:
        elapsed = 0.0
        count = 0
        for batch in batched(documents, BATCH_SIZE):
            rows = [
                (doc.number, doc.title, doc.body, doc.published_at.isoformat())
                for doc in batch
            ]
            start = time.perf_counter()
            with self.db:
                self.db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
            elapsed += time.perf_counter() - start
            extra = [
                (doc.number, " ".join((doc.summary, *doc.tags, *doc.industry_names)))
                for doc in batch
            ]
            with self.db:
                self.db.executemany("INSERT INTO extra.fields VALUES (?, ?)", extra)
            count += len(batch)
            self.characters += sum(len(doc.title) + len(doc.body) for doc in batch)
        return BuildResult(self.name, elapsed, count, directory_size(self.path))

    @staticmethod
    def _where(words: list[str], columns: tuple[str, ...]) -> tuple[str, list[str]]:
        clauses = []
        params = []
        for word in words:
            pattern = f"%{escape_like(word)}%"
            clauses.append(
                "("
                + " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in columns)
                + ")"
            )
            params.extend(pattern for _ in columns)
        return " AND ".join(clauses), params

    def search(self, query: str) -> int:
        """Count the matches of ``query`` and fetch the newest 20 in one scan."""
        where, params = self._where(query.split(), ("title", "body"))
        rows = self.db.execute(
            f"SELECT id, count(*) OVER () FROM docs WHERE {where}"
            f" ORDER BY published_at DESC LIMIT {PER_PAGE}",
            params,
        ).fetchall()
        return rows[0][1] if rows else 0

    def matching_ids(self, query: str, all_fields: bool = False) -> list[int]:
        """Return the ids of every match, in title or body or in any kb field."""
        columns = (
            ("d.title", "d.body", "f.text") if all_fields else ("d.title", "d.body")
        )
        where, params = self._where(query.split(), columns)
        rows = self.db.execute(
            "SELECT d.id FROM docs AS d JOIN extra.fields AS f ON f.id = d.id"
            f" WHERE {where} ORDER BY d.id",
            params,
        )
        return [row[0] for row in rows]

    def count_all_fields(self, query: str) -> int:
        """Count matches in every field that kb indexes, not only title and body."""
        where, params = self._where(query.split(), ("d.title", "d.body", "f.text"))
        return self.db.execute(
            "SELECT count(*) FROM docs AS d JOIN extra.fields AS f ON f.id = d.id"
            f" WHERE {where}",
            params,
        ).fetchone()[0]

    def document(self, number: int) -> tuple[str, str]:
        return self.db.execute(
            "SELECT title, body FROM docs WHERE id = ?", (number,)
        ).fetchone()

    def close(self) -> None:
        self.db.close()


# -- SQLite FTS5 peer ----------------------------------------------------------


def segment_for_index(text: str) -> str:
    return " ".join(
        token for token in jieba.cut_for_search(text) if not token.isspace()
    )


def fts5_expression(query: str) -> str:
    """Cut each query word with jieba.cut and AND the tokens as quoted phrases.

    Tokens without a letter or digit (punctuation) are dropped, because FTS5's
    unicode61 tokenizer drops them from the indexed text too.
    """
    phrases = []
    for word in query.split():
        for token in jieba.cut(word):
            if any(char.isalnum() for char in token):
                quoted = token.replace('"', '""')
                phrases.append(f'"{quoted}"')
    return " AND ".join(phrases)


class Fts5Peer:
    """SQLite FTS5 (unicode61 tokenizer) over jieba-segmented title and body."""

    name = "SQLite FTS5 + jieba"

    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body)")
        self.db.commit()

    def build(self, documents: Iterable[GeneratedDoc]) -> BuildResult:
        """Insert documents in batches; the time includes jieba segmentation."""
        elapsed = 0.0
        count = 0
        for batch in batched(documents, BATCH_SIZE):
            start = time.perf_counter()
            rows = [
                (doc.number, segment_for_index(doc.title), segment_for_index(doc.body))
                for doc in batch
            ]
            with self.db:
                self.db.executemany(
                    "INSERT INTO docs (rowid, title, body) VALUES (?, ?, ?)", rows
                )
            elapsed += time.perf_counter() - start
            count += len(batch)
            if count % 10_000 == 0:
                progress(f"FTS5: indexed {count:,} documents in {elapsed:.1f} s")
        return BuildResult(self.name, elapsed, count, directory_size(self.path))

    def search(self, query: str) -> int:
        """Count the matches of ``query`` and fetch the top 20 by bm25."""
        expression = fts5_expression(query)
        if not expression:
            return 0
        # bm25() is not allowed next to a window function, so rank in a CTE first.
        rows = self.db.execute(
            "WITH matches AS (SELECT rowid AS id, bm25(docs) AS score FROM docs"
            " WHERE docs MATCH ?)"
            " SELECT id, count(*) OVER () FROM matches"
            f" ORDER BY score LIMIT {PER_PAGE}",
            (expression,),
        ).fetchall()
        return rows[0][1] if rows else 0

    def close(self) -> None:
        self.db.close()


# -- report --------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_environment(args: argparse.Namespace, count: int, queries: int) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Search benchmark: {count:,} documents, {queries} queries, seed {args.seed}")
    print(f"Command: python -m bench.search {' '.join(sys.argv[1:])}".rstrip())
    print(f"Date: {now}")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores")
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version},"
        f" jieba {package_version('jieba')}, whoosh3 {package_version('whoosh3')}"
    )


def print_corpus(count: int, characters: int, queries: list[str]) -> None:
    lengths = [len(query.split()) for query in queries]
    print(
        f"Corpus: {count:,} documents, {characters / 1e6:.1f} million characters of"
        f" title and body ({characters / max(count, 1):,.0f} per document)"
    )
    print(
        "Queries: "
        + ", ".join(f"{lengths.count(n)} of {n} word(s)" for n in (1, 2, 3))
        + f", after {WARMUP_QUERIES} untimed warm-up queries"
    )


def print_builds(builds: list[BuildResult]) -> None:
    print()
    print("Index build (MB = 10^6 bytes; generating the documents is not timed)")
    print(f"  {'':<22}{'time (s)':>10}{'docs/s':>10}{'size (MB)':>11}")
    for build in builds:
        print(
            f"  {build.name:<22}{build.seconds:>10.1f}{build.docs_per_second:>10,.0f}"
            f"{build.size_bytes / MB:>11.1f}"
        )


def print_latency(
    kb_runs: list[QueryRun], peer_runs: list[QueryRun], queries: list[str]
) -> None:
    runs = kb_runs + peer_runs
    print()
    print("Query latency (ms, nearest-rank percentiles, count + first page of 20;")
    print("the runs are listed in the order they ran)")
    print(f"  {'':<30}{'p50':>9}{'p95':>9}")
    for run in runs:
        print(f"  {run.name:<30}{run.p50_ms():>9.2f}{run.p95_ms():>9.2f}")

    print()
    print("Ratio kb / peer (below 1 means kb is faster)")
    for run in kb_runs:
        for peer in peer_runs:
            label = f"{run.name} / {peer.name}"
            print(
                f"  {label:<52} p50 {run.p50_ms() / peer.p50_ms():7.3f}"
                f"   p95 {run.p95_ms() / peer.p95_ms():7.3f}"
            )

    print()
    print("By query length (ms, p50 / p95)")
    header = "".join(f"{run.name[:22]:>24}" for run in runs)
    print(f"  {'words':<6}{'n':>5}{header}")
    for words in (1, 2, 3):
        indices = [i for i, query in enumerate(queries) if len(query.split()) == words]
        if not indices:
            continue
        cells = "".join(
            f"{f'{run.p50_ms(indices):.2f} / {run.p95_ms(indices):.2f}':>24}"
            for run in runs
        )
        print(f"  {words:<6}{len(indices):>5}{cells}")


def show_context(text: str, word: str, width: int = 12) -> str:
    position = text.lower().find(word.lower())
    if position < 0:
        return "(not in title or body)"
    start = max(0, position - width)
    excerpt = text[start : position + len(word) + width].replace("\n", " ")
    return f"…{excerpt}… jieba.cut: {' / '.join(jieba.cut(excerpt))}"


def print_agreement(
    queries: list[str],
    kb_run: QueryRun,
    like_run: QueryRun,
    fts5_run: QueryRun,
    engine: SearchEngine,
    like: LikePeer,
) -> None:
    print()
    print("Hit totals against LIKE (LIKE is the ground truth for substring recall)")
    indices = range(len(queries))
    equal = [i for i in indices if kb_run.totals[i] == like_run.totals[i]]
    above = [i for i in indices if kb_run.totals[i] > like_run.totals[i]]
    below = [i for i in indices if kb_run.totals[i] < like_run.totals[i]]
    print(
        f"  kb: {len(equal)} equal, {len(above)} greater, {len(below)} smaller"
        f" ({len(above) + len(below)} of {len(queries)} queries differ)"
    )
    if above:
        print_greater(above, queries, kb_run, like_run, engine, like)
    if below:
        print_smaller(below, queries, kb_run, like_run, engine, like)

    fts5_below = sum(1 for i in indices if fts5_run.totals[i] < like_run.totals[i])
    print(
        f"  FTS5: {fts5_below} of {len(queries)} queries below LIKE;"
        f" {sum(fts5_run.totals):,} hits in all against LIKE's"
        f" {sum(like_run.totals):,}"
    )
    print(f"  kb: {sum(kb_run.totals):,} hits in all")


def print_greater(
    above: list[int],
    queries: list[str],
    kb_run: QueryRun,
    like_run: QueryRun,
    engine: SearchEngine,
    like: LikePeer,
) -> None:
    """Split queries where kb finds more than LIKE by whether other fields explain it.

    kb also indexes summary, tags and industry names, so a LIKE scan over those
    fields as well should reach kb's total. A query where it does not has kb hits
    without a match in any field (false positives), and one is shown per example.
    """
    all_fields = {i: like.count_all_fields(queries[i]) for i in above}
    explained = [i for i in above if all_fields[i] == kb_run.totals[i]]
    unexplained = [i for i in above if all_fields[i] != kb_run.totals[i]]
    print(
        f"  kb greater: {len(explained)} of {len(above)} match a LIKE scan over"
        " every field kb indexes (title, summary, body, tags, industry names)"
    )
    if unexplained:
        print(
            f"  kb greater and not explained by other fields, up to {MAX_EXAMPLES}"
            " examples (query: kb total, LIKE total, LIKE total over all fields):"
        )
        for i in unexplained[:MAX_EXAMPLES]:
            print(
                f"    {queries[i]!r}: {kb_run.totals[i]:,}, {like_run.totals[i]:,},"
                f" {all_fields[i]:,}"
            )
            found = kb_doc_numbers(engine, queries[i], kb_run.totals[i])
            extra = sorted(found - set(like.matching_ids(queries[i], all_fields=True)))
            if extra:
                title, _ = like.document(extra[0])
                print(
                    f"      article:{extra[0]} ({title}) contains no match;"
                    f" {len(extra):,} such hits"
                )
    if explained:
        print_examples("kb greater, explained", explained, queries, kb_run, like_run)


def print_smaller(
    below: list[int],
    queries: list[str],
    kb_run: QueryRun,
    like_run: QueryRun,
    engine: SearchEngine,
    like: LikePeer,
) -> None:
    """List queries where kb misses documents, with one missed document each."""
    print_examples("kb smaller than LIKE", below, queries, kb_run, like_run)
    print("  Documents that LIKE finds and kb misses, one per example:")
    for i in below[:MAX_EXAMPLES]:
        found = kb_doc_numbers(engine, queries[i], kb_run.totals[i])
        missed = [n for n in like.matching_ids(queries[i]) if n not in found]
        if not missed:
            print(f"    {queries[i]!r}: every LIKE match is among kb's hits")
            continue
        title, body = like.document(missed[0])
        text = f"{title}\n{body}"
        print(f"    {queries[i]!r}: article:{missed[0]} ({len(missed)} missed)")
        for word in queries[i].split():
            print(f"      {word}: {show_context(text, word)}")


def print_examples(
    label: str,
    indices: list[int],
    queries: list[str],
    kb_run: QueryRun,
    like_run: QueryRun,
) -> None:
    print(f"  {label}, up to {MAX_EXAMPLES} examples (query: kb total, LIKE total):")
    for i in indices[:MAX_EXAMPLES]:
        print(f"    {queries[i]!r}: {kb_run.totals[i]:,}, {like_run.totals[i]:,}")


# -- main ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search",
        description="Benchmark kb search against SQLite LIKE and SQLite FTS5.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--docs",
        type=int,
        default=DEFAULT_DOCS,
        help=f"number of generated documents (default {DEFAULT_DOCS:,})",
    )
    size.add_argument(
        "--large",
        action="store_true",
        help=f"use {LARGE_DOCS:,} documents",
    )

    parser.add_argument(
        "--queries",
        type=int,
        default=DEFAULT_QUERIES,
        help=f"number of timed queries (default {DEFAULT_QUERIES})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"seed of the documents and queries (default {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--index-dir",
        type=Path,
        help="empty or new folder that keeps the indexes after the run"
        " (default: a temporary folder, removed at the end)",
    )
    args = parser.parse_args(argv)

    if args.docs < 1:
        parser.error(f"--docs {args.docs} is invalid; use a number of at least 1")
    if args.queries < 1:
        parser.error(f"--queries {args.queries} is invalid; use at least 1")
    if args.index_dir and args.index_dir.exists() and any(args.index_dir.iterdir()):
        parser.error(f"--index-dir {args.index_dir} is not empty; name a new folder")
    return args


def run(args: argparse.Namespace, root: Path) -> None:
    count = LARGE_DOCS if args.large else args.docs
    all_queries = generate_queries(args.seed, WARMUP_QUERIES + args.queries)
    warmup, queries = all_queries[:WARMUP_QUERIES], all_queries[WARMUP_QUERIES:]
    index_dir = root / "kb-index"
    jieba_cache = root / "jieba.cache"

    start = time.perf_counter()
    load_dictionary(str(jieba_cache))
    # The FTS5 peer uses jieba's default tokenizer, so load it before any timing.
    jieba.initialize()
    dictionary_seconds = time.perf_counter() - start
    rss_dictionary = current_rss_mb()

    progress(f"Building the kb index of {count:,} documents in {index_dir}")
    builds = [build_kb(index_dir, jieba_cache, args.seed, count)]
    progress("Building the SQLite LIKE table")
    like = LikePeer(root / "like.sqlite", root / "like-extra-fields.sqlite")
    builds.append(like.build(generate(args.seed, count)))
    progress("Building the SQLite FTS5 index")
    fts5 = Fts5Peer(root / "fts5.sqlite")
    builds.append(fts5.build(generate(args.seed, count)))
    gc.collect()
    rss_built = current_rss_mb()

    progress("Timing kb queries")
    start = time.perf_counter()
    engine = SearchEngine(str(index_dir), str(jieba_cache))
    open_seconds = time.perf_counter() - start
    # The engine caches posting arrays, so the first run loads what the later runs
    # reuse. Repeating the first run separates that cost from the snippets' cost.
    kb_runs = [
        time_queries("kb, no snippets", kb_search(engine, False), queries, warmup),
        time_queries(
            "kb, snippets on page 1", kb_search(engine, True), queries, warmup
        ),
        time_queries(
            "kb, no snippets again", kb_search(engine, False), queries, warmup
        ),
    ]
    rss_searcher = current_rss_mb()
    progress("Timing SQLite LIKE queries")
    like_run = time_queries(like.name, like.search, queries, warmup)
    progress("Timing SQLite FTS5 queries")
    fts5_run = time_queries(fts5.name, fts5.search, queries, warmup)

    print_environment(args, count, len(queries))
    print_corpus(count, like.characters, queries)
    print(
        f"Loading the jieba dictionary: {dictionary_seconds:.2f} s;"
        f" opening the kb searcher: {open_seconds * 1000:.1f} ms"
    )
    print_builds(builds)
    print_latency(kb_runs, [like_run, fts5_run], queries)
    if any(run.totals != kb_runs[0].totals for run in kb_runs):
        print("  WARNING: kb totals differ between the kb runs")
    print_agreement(queries, kb_runs[0], like_run, fts5_run, engine, like)

    print()
    print("Memory (MB)")
    print(f"  peak RSS of the process (ru_maxrss): {peak_rss_mb():.1f}")
    print(f"  VmRSS after loading the jieba dictionary: {rss_dictionary:.1f}")
    print(f"  VmRSS after building the three indexes: {rss_built:.1f}")
    print(
        "  VmRSS after opening the kb searcher and running its queries:"
        f" {rss_searcher:.1f}"
    )

    engine.close()
    like.close()
    fts5.close()


def exit_on_sigterm(signum: int, frame: object) -> None:
    # Raising SystemExit lets the temporary index folder be removed.
    sys.exit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    jieba.setLogLevel("WARNING")
    if args.index_dir:
        args.index_dir.mkdir(parents=True, exist_ok=True)
        run(args, args.index_dir)
        return
    with tempfile.TemporaryDirectory(prefix="kb-bench-search-") as folder:
        run(args, Path(folder))


if __name__ == "__main__":
    main()
