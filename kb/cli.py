"""The ``kb`` command line: a Flask CLI group with the project's commands."""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from kb import create_app
from kb.dbutil import writes_database
from kb.extensions import db


def _create_app():
    from kb.config import ConfigError

    try:
        return create_app()
    except ConfigError as error:
        # Stop here: Flask's CLI would go on to report the command as unknown.
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main():
    """Industry knowledge base and market-intelligence forum."""


def register_commands(app) -> None:
    """Add the project's command groups to ``app.cli`` (and so to ``kb``)."""
    for group in (users, tokens, demo, import_group, search, digest, questions):
        app.cli.add_command(group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(serve_command)


# -- users and tokens --------------------------------------------------------


@click.group()
def users():
    """Manage accounts."""


@users.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["staff", "expert", "admin"]),
    default="staff",
    show_default=True,
)
@click.option("--department", required=True, help="Department name; created if new.")
@click.option(
    "--display-name", default=None, help="Name shown on pages; defaults to NAME."
)
@click.option(
    "--email",
    default="",
    help="Address for the daily digest e-mail; empty means no e-mail.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input."
)
@with_appcontext
@writes_database
def create_user(name, role, department, display_name, email, password_stdin):
    """Create the account NAME."""
    from kb.auth.services import create_user as create
    from kb.errors import KbError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create(
            db.session, name, password, role, department, display_name, email=email
        )
    except KbError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created user {user.username} ({role}, {user.department.name}).")


@click.group()
def tokens():
    """Manage API tokens."""


@tokens.command("create")
@click.argument("name")
@click.option(
    "--label", default="cli", show_default=True, help="What the token is for."
)
@with_appcontext
@writes_database
def create_token(name, label):
    """Create an API token for the account NAME; the token is the last line."""
    from kb.auth.services import create_token as create
    from kb.auth.services import get_user_by_name
    from kb.errors import KbError

    try:
        user = get_user_by_name(db.session, name)
        token = create(db.session, user, label)
    except KbError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(
        f"Token for {user.username} (shown once; send it as Authorization: Bearer):"
    )
    click.echo(token)


# -- demo data and import ----------------------------------------------------


@click.group()
def demo():
    """Demo data."""


@demo.command("load")
@with_appcontext
@writes_database
def demo_load():
    """Load demo departments, users and briefs; safe to run again."""
    from kb.demo import load_demo

    summary = load_demo(
        db.session, current_app.config["KB_BODY_MAX_CHARS"], current_app.instance_path
    )
    db.session.commit()
    click.echo(summary)


@click.group("import")
def import_group():
    """Import content from files."""


@import_group.command("markdown")
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@with_appcontext
@writes_database
def import_markdown(directory: Path):
    """Import every *.md below DIRECTORY as a brief (created or updated).

    Files without YAML front matter, such as a folder's README, are skipped.
    """
    from kb.articles.importer import find_markdown_files, import_file
    from kb.search.service import get_indexer

    root = directory.resolve()
    files = find_markdown_files(root)
    body_max = current_app.config["KB_BODY_MAX_CHARS"]
    counts = dict.fromkeys(
        ("created", "updated", "unchanged", "skipped", "rejected"), 0
    )
    show_progress = sys.stderr.isatty()
    indexer = get_indexer()
    with indexer.deferred():
        for number, path in enumerate(files, start=1):
            if show_progress:
                click.echo(
                    f"\r[{number}/{len(files)}] {path.name[:60]:<60}",
                    nl=False,
                    err=True,
                )
            outcome = import_file(db.session, path, root, body_max)
            if outcome.status in ("created", "updated"):
                db.session.commit()
            else:
                db.session.rollback()
            counts[outcome.status] += 1
            line = f"{outcome.status:<9} {outcome.path}"
            if outcome.article_id:
                line += f" -> brief {outcome.article_id}"
            if outcome.reason:
                line += f": {outcome.reason}"
            if show_progress:
                click.echo("\r" + " " * 72 + "\r", nl=False, err=True)
            click.echo(line, err=outcome.status == "rejected")
    indexer.apply_pending()
    click.echo(
        "{} files: {created} created, {updated} updated, {unchanged} unchanged, "
        "{skipped} skipped, {rejected} rejected.".format(len(files), **counts)
    )
    if counts["rejected"]:
        sys.exit(1)


@import_group.command("clients")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every row and print the report without saving anything.",
)
@click.option(
    "--verbose", is_flag=True, help="Also list created, updated and unchanged rows."
)
@with_appcontext
@writes_database
def import_clients(file: Path, dry_run: bool, verbose: bool):
    """Create or update clients from a CRM export FILE (.csv or .xlsx).

    Rows are matched on the credit code. Rejected rows are listed with the
    column and the reason. Exits with status 1 if the file or any row was
    rejected.
    """
    from kb.clients.importer import ImportFileError, read_rows
    from kb.clients.importer import import_clients as run_import
    from kb.search.service import get_indexer

    indexer = get_indexer()
    try:
        sheet = read_rows(file)
        # The search index is updated once after the commit, not after each row.
        with indexer.deferred():
            report = run_import(db.session, sheet, dry_run=dry_run)
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
    except ImportFileError as error:
        db.session.rollback()
        click.echo(error.message, err=True)
        sys.exit(1)
    indexer.apply_pending()
    if report.ignored_columns:
        click.echo("Ignored columns: " + ", ".join(report.ignored_columns))
    for result in report.rows:
        if result.problems:
            reasons = "; ".join(f"{p.column}: {p.message}" for p in result.problems)
            click.echo(f"row {result.row}, {reasons}", err=True)
        elif verbose:
            click.echo(
                f"row {result.row}, {result.outcome}: "
                f"{result.credit_code} {result.name}"
            )
    click.echo(
        "{created} created, {updated} updated, {unchanged} unchanged, "
        "{rejected} rejected.".format(**report.counts)
    )
    if dry_run:
        click.echo("Dry run: nothing was saved.")
    if report.rejected:
        sys.exit(1)


# -- search ------------------------------------------------------------------


@click.group()
def search():
    """Maintain the search index."""


@search.command("reindex")
@click.option(
    "--clear",
    is_flag=True,
    help="Empty the index first (for a damaged index); searches find nothing "
    "until the rebuild ends.",
)
@with_appcontext
def search_reindex(clear: bool):
    """Rewrite every document of the index from the database.

    Searches keep working while it runs, unless --clear is given.
    """
    from kb.search.service import get_indexer

    count = get_indexer().reindex(clear=clear)
    click.echo(f"Indexed {count} documents.")


@search.command("sync")
@with_appcontext
def search_sync():
    """Apply index changes that were committed but not yet indexed."""
    from kb.search.service import get_indexer

    count = get_indexer().apply_pending()
    click.echo(f"Applied {count} pending changes.")


@search.command("follow")
@click.option(
    "--interval",
    type=click.IntRange(1, 300),
    default=None,
    help="Seconds between looks at the outbox [KB_SEARCH_POLL_SECONDS].",
)
@with_appcontext
def search_follow(interval: int | None):
    """Keep this host's index in step with the outbox until stopped.

    For a host whose web workers run with KB_SEARCH_FOLLOWER=true, or a
    host that only serves searches. Stops on SIGTERM or Ctrl-C; a failure
    (such as the database being away) is logged and retried.
    """
    import signal
    import threading

    from kb.search.service import get_indexer

    indexer = get_indexer()
    interval = interval or current_app.config["KB_SEARCH_POLL_SECONDS"]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(
        f"Following the outbox into {indexer.index_dir} every {interval} s "
        f"from entry {indexer.applied_seq()}."
    )
    while not stop.is_set():
        count = indexer.apply_and_report()
        if count:
            click.echo(f"Applied {count} changes, up to entry {indexer.applied_seq()}.")
        stop.wait(interval)
    click.echo("Stopped.")


@search.command("check")
@with_appcontext
def search_check():
    """List documents missing from or stale in the index; exit 1 if any."""
    from kb.search.service import get_indexer

    report = get_indexer().check()
    for label, ids in (
        ("missing", report.missing),
        ("stale", report.stale),
        ("extra", report.extra),
    ):
        for doc_id in ids:
            click.echo(f"{label:<8} {doc_id}")
    if not report.clean:
        click.echo(
            f"Index differs: {len(report.missing)} missing, {len(report.stale)} stale, "
            f"{len(report.extra)} extra. Run `kb search sync` to apply pending "
            "changes, then `kb search reindex` if any remain."
        )
        sys.exit(1)
    click.echo("Index matches the database.")


# -- daily digest ------------------------------------------------------------


@click.group()
def digest():
    """Mail the daily digest of notifications."""


@digest.command("send")
@click.option(
    "--dry-run",
    is_flag=True,
    help="List who would get a digest with how many notifications; send nothing.",
)
@with_appcontext
@writes_database
def digest_send(dry_run: bool):
    """Mail each person their pending daily notifications in one message.

    Exits with status 1 if any message failed; those notifications stay
    pending for the next run.
    """
    from kb.notifications.digest import DigestError, send

    try:
        summary = send(db.session, dry_run=dry_run)
    except DigestError as error:
        raise click.ClickException(str(error)) from None
    if dry_run:
        for user_id, username, count in summary.mailed:
            click.echo(f"{username} (user {user_id}): {count} notifications")
        click.echo(
            f"Dry run: would send {summary.users_mailed} digests with "
            f"{summary.notifications_included} notifications; nothing was sent."
        )
        return
    click.echo(
        f"Sent {summary.users_mailed} digests with "
        f"{summary.notifications_included} notifications; "
        f"{len(summary.failed_user_ids)} failed."
    )
    if summary.failed_user_ids:
        failed = ", ".join(str(user_id) for user_id in summary.failed_user_ids)
        click.echo(
            f"Sending failed for users {failed} (see the log). Their notifications "
            "stay pending for the next run.",
            err=True,
        )
        sys.exit(1)


# -- questions to experts ----------------------------------------------------


@click.group()
def questions():
    """Route questions to experts."""


@questions.command("escalate")
@click.option(
    "--dry-run",
    is_flag=True,
    help="List what would be escalated and to whom; change nothing.",
)
@with_appcontext
@writes_database
def questions_escalate(dry_run: bool):
    """Send unanswered questions to the next-best experts.

    A question is due once KB_QUESTION_ESCALATE_DAYS working days have passed
    since it was last routed. Prints one line per question; meant for cron.
    """
    from kb.config import ConfigError
    from kb.questions.routing import escalate
    from kb.timeutil import utcnow

    try:
        results = escalate(db.session, utcnow(), dry_run=dry_run)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    lines = []
    for item in results:
        question = item.question
        if item.experts:
            people = ", ".join(
                f"{candidate.user.username} ({candidate.basis})"
                for candidate in item.experts
            )
            done = "would escalate" if dry_run else "escalated"
            lines.append(
                f"{done} question {question.id}: round {item.round} to {people}"
            )
        else:
            outcome = "would notify admins" if dry_run else "admins notified"
            lines.append(f"question {question.id}: no experts left to ask; {outcome}")
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for line in lines:
        click.echo(line)
    verb = "Dry run: would escalate" if dry_run else "Escalated"
    escalated = sum(1 for item in results if item.experts)
    click.echo(f"{verb} {escalated} questions; {len(results) - escalated} stalled.")


# -- backup and restore ------------------------------------------------------


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(directory: Path):
    """Write a consistent copy of the database and attachments to DIRECTORY.

    DIRECTORY must be new or empty. The copy is taken while the app runs.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from kb.backup import BackupError, backup

    try:
        result = backup(directory)
    except (BackupError, OSError, SQLAlchemyError) as error:
        click.echo(f"Error: backup failed: {error}", err=True)
        sys.exit(1)
    manifest = result.manifest
    rows = sum(manifest["tables"].values())
    click.echo(
        f"Backed up {rows} rows in {len(manifest['tables'])} tables and "
        f"{len(manifest['attachments'])} attachment files to {directory} "
        f"(revision {manifest['alembic_revision']})."
    )
    for name in result.unreferenced:
        click.echo(
            f"Not backed up: attachments/{name} is not referenced by any "
            "attachment row.",
            err=True,
        )


@click.command("restore")
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace the rows of a database that is not empty.",
)
@with_appcontext
@writes_database
def restore_command(directory: Path, force: bool):
    """Restore the database and attachments from the backup in DIRECTORY.

    The backup must come from this version of kb (same database revision) and
    the same database kind. The search index is rebuilt afterwards.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from kb.backup import BackupError, restore

    try:
        result = restore(directory, force=force)
    except (BackupError, OSError, SQLAlchemyError) as error:
        click.echo(f"Error: restore failed: {error}", err=True)
        sys.exit(1)
    click.echo(
        f"Restored {sum(result.tables.values())} rows and {result.files} "
        f"attachment files; indexed {result.indexed} documents."
    )
    click.echo(
        "Other hosts with their own index: run `kb search reindex --clear` on "
        "each before starting it."
    )


# -- serving -----------------------------------------------------------------


@click.command("serve")
@click.option(
    "--bind", default=None, help="Address and port [KB_BIND, 127.0.0.1:8000]."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes [KB_WORKERS, twice the CPU count plus one].",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Threads per worker [KB_THREADS, 4].",
)
def serve_command(bind: str | None, workers: int | None, threads: int | None):
    """Serve the application with gunicorn and several worker processes.

    The settings are in kb/gunicorn_config.py; options override them. Run
    `kb db upgrade` first. Further gunicorn options can be given in
    GUNICORN_CMD_ARGS.
    """
    import os

    args = [sys.executable, "-m", "gunicorn", "-c", "python:kb.gunicorn_config"]
    if bind:
        args += ["--bind", bind]
    if workers:
        args += ["--workers", str(workers)]
    if threads:
        args += ["--threads", str(threads)]
    args.append("kb:create_app()")
    sys.stdout.flush()
    os.execv(sys.executable, args)
