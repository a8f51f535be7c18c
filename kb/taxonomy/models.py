"""Industries of GB/T 4754-2017 and free tags."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kb.extensions import db


class Industry(db.Model):
    """A section (门类, code A–T) or a division (大类, code 01–97)."""

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    section_code: Mapped[str | None] = mapped_column(
        ForeignKey("industry.code"), default=None
    )

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    def __repr__(self) -> str:
        return f"<Industry {self.code} {self.name}>"


class Tag(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    # Normalised with kb.taxonomy.tags.normalize_tag before storing.
    name: Mapped[str] = mapped_column(String(40), unique=True)

    def __repr__(self) -> str:
        return f"<Tag {self.name!r}>"
