"""Posting lists of one Whoosh searcher as numpy arrays, for set algebra in C.

Whoosh matches and scores documents one posting at a time in Python, which
costs about a microsecond per posting and made common terms slow at 100,000
documents. Here each posting list is decoded a block at a time (128 postings)
into a sorted array of global document numbers and an array of term
frequencies, and cached until the index changes. Queries spread them into
arrays as long as the index (:meth:`Snapshot.frequencies`, :meth:`Snapshot.mask`),
so matching and scoring are elementwise numpy operations.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher

EMPTY_IDS = np.zeros(0, dtype=np.int32)
EMPTY_WEIGHTS = np.zeros(0, dtype=np.float32)

# Cached posting arrays of one snapshot, in bytes. A term in 80,000 of 100,000
# documents takes 640 kB (4-byte ids and 4-byte frequencies).
CACHE_BYTES = 128 * 1024 * 1024
MAX_PREFIX_TERMS = 5000


class SegmentGone(Exception):
    """Raised when a segment's files were deleted before a snapshot opened them."""


def _leaf_arrays(matcher) -> tuple[list, list]:
    """Read all ids and weights of one segment's posting list."""
    ids: list = []
    weights: list = []
    if isinstance(matcher, W3LeafMatcher):
        # Block by block through the codec's own decoders; pinned whoosh3
        # version, see pyproject.toml.
        while not matcher._atend:
            if matcher._data is None:
                matcher._read_data()
            raw_ids = matcher._data[0]
            if matcher._byteids:
                block_ids = np.asarray(raw_ids, dtype=np.int32)
            else:
                # The codec stores gaps between ids; whoosh's own decoder adds
                # them up one by one in Python.
                block_ids = np.cumsum(np.asarray(raw_ids, dtype=np.int64))
            if matcher._weights is None:
                matcher._read_weights()
            ids.append(block_ids.astype(np.int32))
            weights.append(np.asarray(matcher._weights, dtype=np.float32))
            matcher._next_block()
        return ids, weights
    one_ids, one_weights = [], []
    while matcher.is_active():
        one_ids.append(matcher.id())
        one_weights.append(matcher.weight())
        matcher.next()
    ids.append(np.asarray(one_ids, dtype=np.int32))
    weights.append(np.asarray(one_weights, dtype=np.float32))
    return ids, weights


class Snapshot:
    """One open Whoosh searcher and the arrays read from it.

    Documents are numbered as the searcher numbers them (global docnums).
    ``live`` marks every document that is not deleted.
    """

    def __init__(self, searcher):
        self.searcher = searcher
        self.reader = searcher.reader()
        self.leaves = list(self.reader.leaf_readers())
        self._open_stored_fields()
        self.doc_count_all = self.reader.doc_count_all()
        self.doc_count = self.reader.doc_count()
        self._cache: OrderedDict[tuple[str, str], tuple] = OrderedDict()
        self._cache_bytes = 0
        self._lock = threading.Lock()
        self.live = self._live_docs()
        self._published: np.ndarray | None = None

    def _open_stored_fields(self) -> None:
        """Open each segment's stored-fields file now instead of at the first hit.

        A writer in another process deletes the files of the segments it merged
        away. Files this snapshot has open stay readable, but whoosh3 3.54.0
        opens the stored fields lazily and finds no file (a TypeError inside
        whoosh) once they are gone.
        """
        for leaf, _offset in self.leaves:
            if not leaf.doc_count_all():
                continue
            try:
                leaf.stored_fields(0)
            except (TypeError, FileNotFoundError) as exc:
                raise SegmentGone(str(exc)) from exc

    def _live_docs(self) -> np.ndarray:
        parts = []
        for leaf, offset in self.leaves:
            count = leaf.doc_count_all()
            if leaf.has_deletions():
                keep = np.fromiter(
                    (not leaf.is_deleted(n) for n in range(count)), bool, count
                )
                parts.append(np.flatnonzero(keep).astype(np.int32) + offset)
            else:
                parts.append(np.arange(offset, offset + count, dtype=np.int32))
        live = np.zeros(self.doc_count_all, dtype=bool)
        if parts:
            live[np.concatenate(parts)] = True
        return live

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted document numbers containing ``term`` and its frequency in each."""
        key = (field, term)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        ids_parts: list = []
        weight_parts: list = []
        for leaf, offset in self.leaves:
            if (field, term) not in leaf:
                continue
            ids, weights = _leaf_arrays(leaf.postings(field, term))
            ids_parts.extend(part + offset for part in ids)
            weight_parts.extend(weights)
        if ids_parts:
            result = (np.concatenate(ids_parts), np.concatenate(weight_parts))
        else:
            result = (EMPTY_IDS, EMPTY_WEIGHTS)
        self._remember(key, result)
        return result

    def _remember(self, key, result) -> None:
        size = result[0].nbytes + result[1].nbytes
        if size > CACHE_BYTES // 4:
            return
        with self._lock:
            self._cache[key] = result
            self._cache_bytes += size
            while self._cache_bytes > CACHE_BYTES:
                _key, (ids, weights) = self._cache.popitem(last=False)
                self._cache_bytes -= ids.nbytes + weights.nbytes

    def frequencies(self, field: str, term: str) -> np.ndarray:
        """Frequency of ``term`` in every document, by document number (0: absent)."""
        ids, weights = self.postings(field, term)
        dense = np.zeros(self.doc_count_all, dtype=np.float32)
        dense[ids] = weights
        return dense

    def mask(self, field: str, term: str) -> np.ndarray:
        """Return, by document number, whether each document contains ``term``."""
        dense = np.zeros(self.doc_count_all, dtype=bool)
        dense[self.postings(field, term)[0]] = True
        return dense

    def prefix_mask(self, field: str, prefix: str) -> np.ndarray:
        """Return, by document number, whether a term starts with ``prefix``."""
        key = (field, "\0prefix:" + prefix)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            terms = []
            for term in self.reader.expand_prefix(field, prefix):
                terms.append(term.decode() if isinstance(term, bytes) else term)
                if len(terms) >= MAX_PREFIX_TERMS:
                    break
            parts = [self.postings(field, term)[0] for term in terms]
            ids = np.unique(np.concatenate(parts)) if parts else EMPTY_IDS
            cached = (ids, EMPTY_WEIGHTS)
            self._remember(key, cached)
        dense = np.zeros(self.doc_count_all, dtype=bool)
        dense[cached[0]] = True
        return dense

    def published(self) -> np.ndarray:
        """Return the publication time (Unix seconds) of every document, by number.

        NOTE: read one document at a time in Python, once per snapshot, so the
        first search after each index change pays for it at every index size.
        """
        if self._published is None:
            values = np.zeros(self.doc_count_all, dtype=np.int64)
            for leaf, offset in self.leaves:
                column = leaf.column_reader("published")
                count = leaf.doc_count_all()
                values[offset : offset + count] = np.fromiter(
                    (column[n] or 0 for n in range(count)), np.int64, count
                )
            self._published = values
        return self._published

    def close(self) -> None:
        self.searcher.close()
