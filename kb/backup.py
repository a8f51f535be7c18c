"""Backup and restore of the database and the uploaded attachment files.

A backup folder contains ``manifest.json``, the database and
``attachments/``. On SQLite the database is ``kb.sqlite3``, written with the
sqlite3 online backup API. On PostgreSQL it is ``tables/<table>.jsonl``: one
JSON object per row, datetimes in ISO 8601, written from one REPEATABLE READ
transaction. In both cases the attachment list comes from the same read
transaction as the rows, so every attachment row has its file.
"""

import hashlib
import json
import logging
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.engine import Connection

from kb.extensions import db
from kb.timeutil import utcnow
from kb.training.files import ATTACHMENT_FOLDER, attachment_folder

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SQLITE_FILE = "kb.sqlite3"
TABLES_FOLDER = "tables"
CHUNK_BYTES = 1024 * 1024
# Tables that the migrations fill (the GB/T 4754 industry classification). Rows
# there do not make a database count as in use.
SEEDED_TABLES = frozenset({"industry"})


class BackupError(Exception):
    """Raised when a backup or restore fails. The message names the cause."""


@dataclass
class BackupResult:
    manifest: dict
    unreferenced: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    tables: dict[str, int]
    files: int
    indexed: int


# -- helpers -----------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _file_entry(folder: Path, relative: str) -> dict:
    path = folder / relative
    return {"name": relative, "size": path.stat().st_size, "sha256": _sha256(path)}


def database_kind() -> str:
    """Return ``sqlite`` or ``postgresql`` for the application's database."""
    name = db.engine.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"Database kind {name!r} is not supported for backups.")
    return name


def head_revision() -> str:
    """Return the newest Alembic revision of this version of kb."""
    config = current_app.extensions["migrate"].migrate.get_config()
    heads = ScriptDirectory.from_config(config).get_heads()
    return heads[0]


def _tables() -> list[sa.Table]:
    return list(db.metadata.sorted_tables)


def _prepare_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise BackupError(f"Backup target {target} is not a folder.")
    if target.exists() and any(target.iterdir()):
        raise BackupError(
            f"Backup target {target} is not empty. Use a new or empty folder."
        )
    target.mkdir(parents=True, exist_ok=True)


# -- backup ------------------------------------------------------------------


def backup(target: Path) -> BackupResult:
    """Write a consistent copy of the database and attachments into ``target``.

    ``target`` must be missing or empty. Files in the attachment folder that no
    attachment row names are left out and listed in the result.
    """
    kind = database_kind()
    _prepare_target(target)
    source_files = attachment_folder(current_app.instance_path)
    (target / ATTACHMENT_FOLDER).mkdir()
    if kind == "sqlite":
        snapshot = _backup_sqlite(target, source_files)
    else:
        snapshot = _backup_postgresql(target, source_files)
    revision, counts, stored_names, database_files = snapshot

    referenced = set(stored_names)
    unreferenced = []
    if source_files.is_dir():
        unreferenced = sorted(
            path.name
            for path in source_files.iterdir()
            if path.is_file() and path.name not in referenced
        )
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "database": kind,
        "alembic_revision": revision,
        "tables": counts,
        "database_files": [_file_entry(target, name) for name in database_files],
        "attachments": [
            _file_entry(target, f"{ATTACHMENT_FOLDER}/{name}")
            for name in sorted(referenced)
        ],
        "unreferenced_files": unreferenced,
    }
    (target / MANIFEST_NAME).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    logger.info(
        "Backup written to %s: %d rows, %d attachment files",
        target,
        sum(counts.values()),
        len(referenced),
    )
    return BackupResult(manifest, unreferenced)


def _copy_attachments(names: list[str], source: Path, target: Path) -> None:
    for name in names:
        path = source / name
        if not path.is_file():
            raise BackupError(
                f"Attachment file {path} is missing, but the database lists it. "
                "Restore the file or delete the attachment, then back up again."
            )
        shutil.copyfile(path, target / ATTACHMENT_FOLDER / name)


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return Path(database)


def _backup_sqlite(target: Path, source_files: Path):
    """Copy the database with the online backup API inside one read transaction.

    The connection opens a read transaction first and keeps it until the files
    are copied, so the backup API copies the same snapshot that the attachment
    list and the row counts were read from.
    """
    busy_seconds = current_app.config["KB_SQLITE_BUSY_SECONDS"]
    source = sqlite3.connect(_sqlite_path(), timeout=busy_seconds, isolation_level=None)
    destination = sqlite3.connect(target / SQLITE_FILE)
    try:
        source.execute("BEGIN")
        revision = source.execute("SELECT version_num FROM alembic_version").fetchone()
        counts = {
            table.name: source.execute(
                f'SELECT count(*) FROM "{table.name}"'
            ).fetchone()[0]
            for table in _tables()
        }
        names = [
            row[0]
            for row in source.execute(
                "SELECT stored_name FROM attachment ORDER BY id"
            ).fetchall()
        ]
        source.backup(destination)
        _copy_attachments(names, source_files, target)
        source.execute("COMMIT")
    except sqlite3.Error as error:
        raise BackupError(f"Reading the SQLite database failed: {error}") from None
    finally:
        destination.close()
        source.close()
    return revision[0] if revision else None, counts, names, [SQLITE_FILE]


def _encode(value):
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


def _backup_postgresql(target: Path, source_files: Path):
    folder = target / TABLES_FOLDER
    folder.mkdir()
    counts = {}
    files = []
    engine = db.engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as connection:
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
        for table in _tables():
            name = f"{TABLES_FOLDER}/{table.name}.jsonl"
            counts[table.name] = _dump_table(connection, table, target / name)
            files.append(name)
        names = list(
            connection.scalars(
                sa.text("SELECT stored_name FROM attachment ORDER BY id")
            )
        )
        _copy_attachments(names, source_files, target)
        connection.rollback()
    return revision, counts, names, files


def _dump_table(connection: Connection, table: sa.Table, path: Path) -> int:
    order = [column for column in table.primary_key.columns] or list(table.columns)
    result = connection.execution_options(yield_per=1000).execute(
        sa.select(table).order_by(*order)
    )
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in result.mappings():
            record = {key: _encode(value) for key, value in row.items()}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


# -- restore -----------------------------------------------------------------


def read_manifest(source: Path) -> dict:
    """Read and check ``manifest.json`` of the backup folder ``source``."""
    path = source / MANIFEST_NAME
    if not path.is_file():
        raise BackupError(f"{path} is missing, so {source} is not a kb backup folder.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BackupError(
            f"Backup format {found!r} in {path} is not supported. "
            f"Expected format {FORMAT_VERSION}."
        )
    for key in ("database", "alembic_revision", "database_files", "attachments"):
        if key not in manifest:
            raise BackupError(f"{path} is invalid: the field {key!r} is missing.")
    return manifest


def verify(source: Path, manifest: dict) -> None:
    """Check the revision, the database kind and every file's size and SHA-256."""
    head = head_revision()
    if manifest["alembic_revision"] != head:
        raise BackupError(
            f"Backup is at database revision {manifest['alembic_revision']}, but "
            f"this version of kb expects revision {head}. Restore it with the kb "
            "version that wrote it, then upgrade with `kb db upgrade`."
        )
    kind = database_kind()
    if manifest["database"] != kind:
        raise BackupError(
            f"Backup contains a {manifest['database']} database, but the target "
            f"database is {kind}; restore into a {manifest['database']} database."
        )
    problems = []
    for entry in manifest["database_files"] + manifest["attachments"]:
        relative = Path(entry["name"])
        path = source / relative
        if relative.is_absolute() or ".." in relative.parts:
            problems.append(f"file name {entry['name']} leaves the backup folder")
        elif not path.is_file():
            problems.append(f"file {entry['name']} is missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(
                f"file {entry['name']} has {path.stat().st_size} bytes, "
                f"expected {entry['size']}"
            )
        elif _sha256(path) != entry["sha256"]:
            problems.append(f"file {entry['name']} fails its SHA-256 checksum")
    if problems:
        raise BackupError(
            "Backup is damaged: " + "; ".join(problems) + ". Nothing was restored."
        )


def _nonempty_tables(connection: Connection) -> list[str]:
    existing = set(sa.inspect(connection).get_table_names())
    return [
        table.name
        for table in _tables()
        if table.name in existing
        and table.name not in SEEDED_TABLES
        and connection.scalar(sa.select(sa.func.count()).select_from(table))
    ]


def restore(source: Path, force: bool = False) -> RestoreResult:
    """Replace the database rows and attachments with the backup in ``source``.

    Raises BackupError before changing anything if the backup is damaged, was
    written by another database revision, or the target database has rows and
    ``force`` is false. The search index is rebuilt from the restored rows.
    """
    from kb.search.service import get_indexer

    if not source.is_dir():
        raise BackupError(f"Backup folder {source} is not found.")
    manifest = read_manifest(source)
    verify(source, manifest)
    with db.engine.connect() as connection:
        filled = _nonempty_tables(connection)
    if filled and not force:
        listed = ", ".join(filled[:5]) + (" ..." if len(filled) > 5 else "")
        raise BackupError(
            f"Target database is not empty (rows in {listed}). Restore into an "
            "empty database, or pass --force to replace its rows."
        )
    db.session.remove()
    if manifest["database"] == "sqlite":
        _restore_sqlite(source)
    else:
        _restore_postgresql(source)
    files = _restore_attachments(source, manifest)
    with db.engine.connect() as connection:
        counts = {
            table.name: connection.scalar(sa.select(sa.func.count()).select_from(table))
            for table in _tables()
        }
    indexed = get_indexer().reindex(clear=True)
    logger.info("Restored %s: %d rows, %d files", source, sum(counts.values()), files)
    return RestoreResult(counts, files, indexed)


def _restore_sqlite(source: Path) -> None:
    """Copy the backup into the live database file with the online backup API.

    The backup API takes the target's write lock, so running processes see
    either the old or the restored database, never a mix.
    """
    db.engine.dispose()
    busy_seconds = current_app.config["KB_SQLITE_BUSY_SECONDS"]
    backup_copy = sqlite3.connect(f"file:{source / SQLITE_FILE}?mode=ro", uri=True)
    target = sqlite3.connect(_sqlite_path(), timeout=busy_seconds)
    try:
        backup_copy.backup(target)
    except sqlite3.Error as error:
        raise BackupError(f"Writing the SQLite database failed: {error}") from None
    finally:
        target.close()
        backup_copy.close()


def _late_columns(table: sa.Table, position: dict[str, int]) -> list[str]:
    """Return foreign key columns that refer to this table or to a later one.

    Such rows (a question's accepted answer, a reply quoting a reply) are
    inserted with the column empty and updated once every row is in.
    """
    late = []
    for column in table.columns:
        for key in column.foreign_keys:
            referred = key.column.table.name
            if position.get(referred, -1) >= position[table.name]:
                late.append(column.name)
    return late


def _decode(table: sa.Table, record: dict) -> dict:
    row = {}
    for name, value in record.items():
        column = table.columns[name]
        if value is not None and isinstance(column.type, sa.DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, sa.Date):
            value = date.fromisoformat(value)
        row[name] = value
    return row


def _read_rows(path: Path, table: sa.Table):
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                yield _decode(table, json.loads(line))
            except (json.JSONDecodeError, KeyError, ValueError) as error:
                raise BackupError(
                    f"{path.name} line {number} is invalid: {error}"
                ) from None


def _restore_postgresql(source: Path) -> None:
    from flask_migrate import upgrade

    with db.engine.connect() as connection:
        has_schema = "alembic_version" in sa.inspect(connection).get_table_names()
    if not has_schema:
        upgrade()
    tables = _tables()
    position = {table.name: index for index, table in enumerate(tables)}
    with db.engine.begin() as connection:
        for table in reversed(tables):
            connection.execute(table.delete())
        updates = []
        for table in tables:
            late = _late_columns(table, position)
            keys = [column.name for column in table.primary_key.columns]
            batch = []
            for row in _read_rows(
                source / TABLES_FOLDER / f"{table.name}.jsonl", table
            ):
                if any(row.get(name) is not None for name in late):
                    updates.append((table, keys, late, dict(row)))
                    row.update(dict.fromkeys(late))
                batch.append(row)
                if len(batch) >= 1000:
                    connection.execute(table.insert(), batch)
                    batch = []
            if batch:
                connection.execute(table.insert(), batch)
        for table, keys, late, row in updates:
            statement = (
                table.update()
                .where(*(table.columns[key] == row[key] for key in keys))
                .values({name: row[name] for name in late})
            )
            connection.execute(statement)
        _reset_sequences(connection, tables)


def _reset_sequences(connection: Connection, tables: list[sa.Table]) -> None:
    """Move each serial sequence past the largest restored id, never back.

    A sequence that had gone further before the restore stays where it was,
    so no id is handed out twice. A link to an old record then never leads to
    a new one. An index replica on another host, whose outbox position may be
    past the restored entries, still receives every new entry.
    """
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, sa.Integer):
                continue
            sequence = connection.scalar(
                sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": f'"{table.name}"', "column": column.name},
            )
            if sequence is None:
                continue
            # The name comes from PostgreSQL itself, quoted where needed.
            used, last = connection.execute(
                sa.text(f"SELECT is_called, last_value FROM {sequence}")
            ).one()
            largest = connection.scalar(
                sa.text(f'SELECT max("{column.name}") FROM "{table.name}"')
            )
            value = max(largest or 0, last if used else 0)
            connection.execute(
                sa.text("SELECT setval(:sequence, :value, :called)"),
                {"sequence": sequence, "value": max(value, 1), "called": value > 0},
            )


def _restore_attachments(source: Path, manifest: dict) -> int:
    folder = attachment_folder(current_app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    for entry in manifest["attachments"]:
        name = Path(entry["name"]).name
        shutil.copyfile(source / ATTACHMENT_FOLDER / name, folder / name)
    return len(manifest["attachments"])
