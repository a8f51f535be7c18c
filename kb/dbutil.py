"""Database engine settings."""

import functools
import sqlite3
from contextvars import ContextVar

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

# Set by ``writes_database`` for a command line command that writes. A new
# thread starts with the default, so the index thread never inherits it.
_command_writes: ContextVar[bool] = ContextVar("kb_command_writes", default=False)


def writes_database(command):
    """Mark a command line command as a writer, so it takes SQLite's write lock.

    Every transaction the command begins starts with BEGIN IMMEDIATE, and so
    waits up to KB_SQLITE_BUSY_SECONDS for the web app or another command to
    commit instead of failing with "database is locked".
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        token = _command_writes.set(True)
        try:
            return command(*args, **kwargs)
        finally:
            _command_writes.reset(token)

    return wrapper


def tune_sqlite(engine: Engine, busy_seconds: int) -> None:
    """Enable WAL, foreign keys and a busy timeout on every new SQLite connection.

    ``busy_seconds`` is how long a connection waits for another connection's
    write lock before SQLite reports "database is locked".

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
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if isinstance(connection.connection.driver_connection, sqlite3.Connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE" if _writes() else "BEGIN")


def _writes() -> bool:
    """Tell whether the current web request (``g.kb_writes``) or command writes.

    In WAL mode a transaction that reads first and writes later fails at once
    with "database is locked" when another connection committed in between:
    the busy timeout does not apply to that upgrade. Requests that write
    therefore take the write lock with their first statement (BEGIN
    IMMEDIATE) and wait for it instead, and so do commands marked with
    ``writes_database``. Read-only requests, other commands and the index
    thread (it reads only) begin deferred transactions.
    """
    from flask import g, has_request_context

    if _command_writes.get():
        return True
    return has_request_context() and g.get("kb_writes", False)


def get_or_create(session: Session, model, **key):
    """Return the ``model`` row whose columns equal ``key``, creating it if new.

    ``key`` must match a unique constraint. A concurrent request that creates
    the same row first makes the insert fail inside a savepoint, and the row
    is then read again instead of failing the request.
    """
    query = select(model).filter_by(**key)
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = model(**key)
            session.add(row)
    except IntegrityError:
        row = session.scalar(query)
    return row
