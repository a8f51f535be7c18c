"""Client test fixtures; the forum's accounts fixture is shared from its package."""

from tests.forum.conftest import people  # noqa: F401  (fixture)
