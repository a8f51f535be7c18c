"""Searches in one process while another process's writer merges segments."""

from kb.search.engine import SearchEngine
from tests.search.test_engine import doc


def test_snapshot_outlives_other_writers_merge(tmp_path):
    """A segment that a merge deleted before its first hit used to raise TypeError."""
    writer = SearchEngine(tmp_path / "index", tmp_path / "jieba.cache")
    reader = SearchEngine(tmp_path / "index", tmp_path / "jieba.cache")
    try:
        writer.write([doc(1)], [])
        snapshot = reader._snapshot()
        # Each commit adds a segment, and merging the small ones deletes the
        # files of the first segment.
        for number in range(2, 30):
            writer.write([doc(number)], [])

        assert not any(
            (tmp_path / "index" / "whoosh").glob(f"*{segment_id(snapshot)}*")
        )
        assert snapshot.searcher.stored_fields(0)["record_id"] == 1
    finally:
        reader.close()
        writer.close()


def segment_id(snapshot) -> str:
    (leaf, _offset), *_ = snapshot.leaves
    return leaf.segment().segment_id()
