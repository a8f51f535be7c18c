"""Database engine settings."""

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

# How long a writer waits for another writer's lock before SQLite reports
# "database is locked", in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def tune_sqlite(engine: Engine) -> None:
    """Enable WAL, foreign keys and a busy timeout on every new SQLite connection.

    Python's sqlite3 module (3.11) sends BEGIN only before INSERT, UPDATE and
    DELETE, so a SAVEPOINT that is a transaction's first write would commit on
    release. As SQLAlchemy's pysqlite documentation recommends, the driver's
    own transaction handling is turned off and SQLAlchemy sends BEGIN itself.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if isinstance(connection.connection.driver_connection, sqlite3.Connection):
            connection.exec_driver_sql(
                "BEGIN IMMEDIATE" if _request_writes() else "BEGIN"
            )


def _request_writes() -> bool:
    """Tell whether the current web request will write (``g.kb_writes``).

    In WAL mode a transaction that reads first and writes later fails at once
    with "database is locked" when another connection committed in between:
    the busy timeout does not apply to that upgrade. Requests that write
    therefore take the write lock with their first statement (BEGIN
    IMMEDIATE) and wait for it instead. Read-only requests and work outside
    requests (the index thread reads only) begin deferred transactions.
    """
    from flask import g, has_request_context

    return has_request_context() and g.get("kb_writes", False)
