"""The search outbox: index changes recorded in the same transaction as the data."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kb.extensions import db
from kb.timeutil import utcnow


class SearchOutbox(db.Model):
    """One record whose index entry must be refreshed, in commit order by ``seq``.

    Entries stay in the table after they are applied: each index replica keeps
    the last ``seq`` it applied, so several replicas can follow the same log.
    """

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    doc_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
