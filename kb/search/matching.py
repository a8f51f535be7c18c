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

from kb.search.postings import EMPTY_IDS, Snapshot

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


def term_match(snapshot: Snapshot, term, field: str = "grams"):
    """Return which documents have ``term`` and the frequency of its rarest gram.

    Both are arrays over all document numbers, so terms combine with
    elementwise operations in C.
    """
    frequency = None
    for gram in term.grams:
        dense = snapshot.frequencies(field, gram)
        if frequency is None:
            frequency = dense
        else:
            np.minimum(frequency, dense, out=frequency)
    if frequency is None:
        match = np.ones(snapshot.doc_count_all, dtype=bool)
    else:
        match = frequency > 0
    for char in term.prefixes:
        match &= snapshot.prefix_mask(field, char)
    if frequency is None:
        frequency = match.astype(np.float32)
    return match, frequency


def term_scores(snapshot: Snapshot, term) -> tuple[np.ndarray, np.ndarray]:
    """Documents matching ``term`` and the term's score in each (0 elsewhere)."""
    match, frequency = term_match(snapshot, term)
    total = max(snapshot.doc_count, 1)
    found = int(np.count_nonzero(match))
    idf = math.log(1 + (total - found + 0.5) / (found + 0.5))
    score = frequency * np.float32(K1 + 1) / (frequency + np.float32(K1))
    title_match, _frequency = term_match(snapshot, term, "title_grams")
    score += np.float32(TITLE_BONUS) * title_match
    if term.words:
        whole_word = snapshot.mask("words", term.words[0])
        for word in term.words[1:]:
            whole_word &= snapshot.mask("words", word)
        score += np.float32(WORD_BONUS) * whole_word
    score *= np.float32(idf)
    score *= match
    return match, score


def _group(snapshot: Snapshot, terms) -> tuple[np.ndarray, np.ndarray]:
    """Documents matching any of ``terms`` and the sum of their term scores."""
    match, score = term_scores(snapshot, terms[0])
    for term in terms[1:]:
        term_match_, term_score = term_scores(snapshot, term)
        match |= term_match_
        score += term_score
    return match, score


def _filter_masks(snapshot: Snapshot, filters: Filters) -> list[np.ndarray]:
    masks = []
    if filters.industry:
        masks.append(snapshot.mask("industry", filters.industry))
    if filters.tag:
        masks.append(snapshot.mask("tags", filters.tag))
    if filters.types:
        masks.append(_any(snapshot, "type", filters.types))
    if filters.acl is not None:
        masks.append(_any(snapshot, "acl", filters.acl))
    return masks


def _any(snapshot: Snapshot, field: str, terms) -> np.ndarray:
    mask = np.zeros(snapshot.doc_count_all, dtype=bool)
    for term in terms:
        mask |= snapshot.mask(field, term)
    return mask


def evaluate(
    snapshot: Snapshot, parsed, filters: Filters
) -> tuple[np.ndarray, np.ndarray | None]:
    """Matching live documents, sorted by number, and their scores (None: no text)."""
    score = None
    match = snapshot.live.copy()
    for group in parsed.groups:
        group_match, group_score = _group(snapshot, group)
        match &= group_match
        score = group_score if score is None else score + group_score
    for mask in _filter_masks(snapshot, filters):
        match &= mask
    for term in parsed.excluded:
        match &= ~term_match(snapshot, term)[0]
    ids = np.flatnonzero(match)
    return ids, (score[ids].astype(np.float64) if score is not None else None)


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
    """Return the first ``limit`` ids in result order, and their scores.

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
