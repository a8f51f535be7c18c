"""Find and rank the documents of a parsed query over posting arrays.

A document matches a term when it has every gram of the term (and, for a
single Han character, any gram starting with it). Its score for the term is
BM25 without length normalisation on the term's rarest gram frequency, plus a
bonus when the term is a whole jieba word of the document and a larger one
when the title contains it. Work grows with the number of posting blocks read,
never with Python code per matching document.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kb.search.postings import EMPTY_IDS, Snapshot, intersect, union, weights_at

K1 = 1.2
WORD_BONUS = 2.0
TITLE_BONUS = 4.0


@dataclass(frozen=True)
class Filters:
    """Restrictions besides the query text; ``acl`` None means no restriction."""

    industry: str | None = None
    tag: str | None = None
    types: tuple[str, ...] = ()
    acl: tuple[str, ...] | None = None

    def __bool__(self) -> bool:
        return bool(self.industry or self.tag or self.types or self.acl is not None)


def term_candidates(snapshot: Snapshot, term, field: str = "grams") -> np.ndarray:
    arrays = [snapshot.ids(field, gram) for gram in term.grams]
    arrays += [snapshot.prefix_ids(field, char) for char in term.prefixes]
    return intersect(arrays)


def term_scores(snapshot: Snapshot, term, candidates: np.ndarray) -> np.ndarray:
    """Score of ``term`` in each candidate document."""
    total = max(snapshot.doc_count, 1)
    found = len(candidates)
    idf = math.log(1 + (total - found + 0.5) / (found + 0.5))
    if term.grams:
        frequency = np.min(
            [
                weights_at(*snapshot.postings("grams", gram), candidates)
                for gram in term.grams
            ],
            axis=0,
        )
    else:
        frequency = np.ones(found, dtype=np.float32)
    saturated = frequency * (K1 + 1) / (frequency + K1)
    in_title = np.isin(
        candidates, term_candidates(snapshot, term, "title_grams"), assume_unique=True
    )
    if term.words:
        words = intersect([snapshot.ids("words", word) for word in term.words])
        whole_word = np.isin(candidates, words, assume_unique=True)
    else:
        whole_word = np.zeros(found, dtype=bool)
    return idf * (saturated + WORD_BONUS * whole_word + TITLE_BONUS * in_title)


def _group(snapshot: Snapshot, terms) -> tuple[np.ndarray, np.ndarray]:
    """Documents matching any of ``terms`` and the sum of their term scores."""
    matched = []
    for term in terms:
        candidates = term_candidates(snapshot, term)
        matched.append((candidates, term_scores(snapshot, term, candidates)))
    ids = union([candidates for candidates, _scores in matched])
    scores = np.zeros(len(ids), dtype=np.float64)
    for candidates, term_score in matched:
        scores[np.searchsorted(ids, candidates)] += term_score
    return ids, scores


def _filter_arrays(snapshot: Snapshot, filters: Filters) -> list[np.ndarray]:
    arrays = []
    if filters.industry:
        arrays.append(snapshot.ids("industry", filters.industry))
    if filters.tag:
        arrays.append(snapshot.ids("tags", filters.tag))
    if filters.types:
        arrays.append(union([snapshot.ids("type", t) for t in filters.types]))
    if filters.acl is not None:
        arrays.append(union([snapshot.ids("acl", token) for token in filters.acl]))
    return arrays


def evaluate(
    snapshot: Snapshot, parsed, filters: Filters
) -> tuple[np.ndarray, np.ndarray | None]:
    """Matching live documents, sorted by number, and their scores (None: no text)."""
    if parsed:
        groups = [_group(snapshot, group) for group in parsed.groups]
        ids = intersect([group_ids for group_ids, _scores in groups])
        scores = np.zeros(len(ids), dtype=np.float64)
        for group_ids, group_scores in groups:
            scores += group_scores[np.searchsorted(group_ids, ids)]
    else:
        ids, scores = snapshot.live, None
    keep_arrays = _filter_arrays(snapshot, filters)
    if parsed and len(snapshot.live) < snapshot.doc_count_all:
        keep_arrays.append(snapshot.live)
    for array in keep_arrays:
        keep = np.isin(ids, array, assume_unique=True)
        ids = ids[keep]
        scores = scores[keep] if scores is not None else None
    if parsed.excluded:
        excluded = union([term_candidates(snapshot, t) for t in parsed.excluded])
        keep = ~np.isin(ids, excluded, assume_unique=True)
        ids = ids[keep]
        scores = scores[keep] if scores is not None else None
    return ids, scores


def drop(
    ids: np.ndarray, scores: np.ndarray | None, unwanted: Iterable[int]
) -> tuple[np.ndarray, np.ndarray | None]:
    unwanted = np.fromiter(unwanted, dtype=np.int64)
    if not len(unwanted):
        return ids, scores
    keep = ~np.isin(ids, unwanted)
    return ids[keep], (scores[keep] if scores is not None else None)


def top(
    snapshot: Snapshot,
    ids: np.ndarray,
    scores: np.ndarray | None,
    sort: str,
    limit: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` ids in result order, and their scores.

    Relevance order is score, then newest, then document number; date order is
    newest, then document number. Only the documents that can reach the first
    ``limit`` places are sorted.
    """
    if not len(ids):
        return EMPTY_IDS, np.zeros(0)
    published = snapshot.published()[ids]
    if scores is None:
        scores = np.zeros(len(ids))
    if sort == "date":
        primary, secondary = -published, ids
    else:
        primary, secondary = -scores, -published
    if len(ids) > limit:
        kth = np.partition(primary, limit - 1)[limit - 1]
        selected = primary <= kth
        ids, scores = ids[selected], scores[selected]
        primary, secondary = primary[selected], secondary[selected]
    order = np.lexsort((ids, secondary, primary))[:limit]
    return ids[order], scores[order]
