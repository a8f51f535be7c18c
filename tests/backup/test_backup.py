"""`kb backup` and `kb restore`: round trip, damaged backups and refusals."""

import json

import pytest
import sqlalchemy as sa

from kb.auth.models import Department, User
from kb.extensions import db
from kb.questions.models import Question
from kb.search.models import SearchOutbox
from kb.search.service import get_indexer
from kb.training.files import attachment_folder
from kb.training.models import Attachment
from tests.backup.conftest import ATTACHMENT_NAME, ATTACHMENT_PHRASE
from tests.conftest import uses_postgres


def table_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


def run_backup(app, target):
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    return result


def run_restore(app, source, *extra):
    return app.test_cli_runner().invoke(args=["restore", str(source), *extra])


def edit_manifest(folder, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_round_trip_restores_everything(app, filled, fresh_app, tmp_path):
    stored_name, data = filled
    folder = tmp_path / "backup"
    run_backup(app, folder)

    result = run_restore(fresh_app, folder)
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output

    source_counts = table_counts(app)
    assert table_counts(fresh_app) == source_counts
    assert source_counts["user"] >= 7
    assert source_counts["article"] >= 12
    assert source_counts["post"] >= 1
    restored_file = attachment_folder(fresh_app.instance_path) / stored_name
    assert restored_file.read_bytes() == data

    with fresh_app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert admin.role == "admin"
        answered = db.session.scalar(
            sa.select(Question).where(Question.accepted_answer_id.is_not(None))
        )
        assert answered is not None
        assert answered.accepted_answer.accepted
        assert answered.accepted_answer.question_id == answered.id
        attachment = db.session.scalar(
            sa.select(Attachment).where(Attachment.stored_name == stored_name)
        )
        assert attachment.original_name == ATTACHMENT_NAME
        assert attachment.created_at.tzinfo is None
        found = get_indexer().engine.search(ATTACHMENT_PHRASE, types=("attachment",))
        assert [hit.title for hit in found.hits] == [ATTACHMENT_NAME]
        assert get_indexer().check().clean


def test_restored_database_accepts_new_rows(app, filled, fresh_app, tmp_path):
    """New rows get fresh ids, so PostgreSQL sequences were moved past the data."""
    folder = tmp_path / "backup"
    run_backup(app, folder)
    assert run_restore(fresh_app, folder).exit_code == 0
    with fresh_app.app_context():
        largest = db.session.scalar(sa.select(sa.func.max(Department.id)))
        department = Department(name="恢复后新建的部门")
        db.session.add(department)
        db.session.commit()
        assert department.id > largest


def test_restore_into_database_without_tables(app, filled, blank_app, tmp_path):
    folder = tmp_path / "backup"
    run_backup(app, folder)
    result = run_restore(blank_app, folder)
    assert result.exit_code == 0, result.output
    assert table_counts(blank_app) == table_counts(app)


def test_backup_manifest_lists_counts_and_files(app, filled, tmp_path):
    stored_name, data = filled
    folder = tmp_path / "backup"
    run_backup(app, folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == 1
    assert manifest["created_at"].endswith("Z")
    assert manifest["alembic_revision"]
    assert manifest["database"] in ("sqlite", "postgresql")
    assert manifest["tables"] == table_counts(app)
    names = [entry["name"] for entry in manifest["attachments"]]
    assert f"attachments/{stored_name}" in names
    entry = manifest["attachments"][names.index(f"attachments/{stored_name}")]
    assert entry["size"] == len(data)
    assert len(entry["sha256"]) == 64
    assert manifest["database_files"]


def test_backup_reports_unreferenced_files(app, filled, tmp_path):
    stray = attachment_folder(app.instance_path) / "stray.pdf"
    stray.write_bytes(b"%PDF-1.4 left over")
    folder = tmp_path / "backup"
    result = run_backup(app, folder)
    assert "attachments/stray.pdf is not referenced" in result.output
    assert not (folder / "attachments" / "stray.pdf").exists()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["unreferenced_files"] == ["stray.pdf"]


def test_backup_fails_on_missing_attachment(app, filled, tmp_path):
    stored_name, _ = filled
    (attachment_folder(app.instance_path) / stored_name).unlink()
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert stored_name in result.output
    assert "missing" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_backup_rejects_folder_that_is_not_empty(app, tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "old.txt").write_text("x")
    result = app.test_cli_runner().invoke(args=["backup", str(folder)])
    assert result.exit_code == 1
    assert "is not empty" in result.output


def damage_missing_file(folder, stored_name):
    (folder / "attachments" / stored_name).unlink()
    return f"file attachments/{stored_name} is missing"


def damage_checksum(folder, stored_name):
    path = folder / "attachments" / stored_name
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return f"file attachments/{stored_name} fails its SHA-256 checksum"


def damage_revision(folder, stored_name):
    edit_manifest(folder, lambda manifest: manifest.update(alembic_revision="0001"))
    return "Backup is at database revision 0001"


def damage_format(folder, stored_name):
    edit_manifest(folder, lambda manifest: manifest.update(format=99))
    return "Backup format 99"


def damage_kind(folder, stored_name):
    def swap_kind(manifest):
        other = {"sqlite": "postgresql", "postgresql": "sqlite"}
        manifest["database"] = other[manifest["database"]]

    edit_manifest(folder, swap_kind)
    return "database, but the target database is"


def damage_escape(folder, stored_name):
    def point_outside(manifest):
        manifest["attachments"][0]["name"] = "../../etc/passwd"

    edit_manifest(folder, point_outside)
    return "file name ../../etc/passwd leaves the backup folder"


@pytest.mark.parametrize(
    "damage",
    [
        damage_missing_file,
        damage_checksum,
        damage_revision,
        damage_format,
        damage_kind,
        damage_escape,
    ],
)
def test_restore_rejects_damaged_backup(app, filled, fresh_app, tmp_path, damage):
    stored_name, _ = filled
    folder = tmp_path / "backup"
    run_backup(app, folder)
    expected = damage(folder, stored_name)
    before = table_counts(fresh_app)

    result = run_restore(fresh_app, folder)
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert table_counts(fresh_app) == before
    assert not (attachment_folder(fresh_app.instance_path) / stored_name).exists()


def test_restore_rejects_missing_manifest(fresh_app, tmp_path):
    folder = tmp_path / "not-a-backup"
    folder.mkdir()
    result = run_restore(fresh_app, folder)
    assert result.exit_code == 1
    assert "manifest.json is missing" in result.output


def test_restore_requires_force_for_used_database(app, filled, tmp_path):
    folder = tmp_path / "backup"
    run_backup(app, folder)
    with app.app_context():
        db.session.add(Department(name="备份之后新建的部门"))
        db.session.commit()
    after_edit = table_counts(app)

    rejected = run_restore(app, folder)
    assert rejected.exit_code == 1
    assert "Target database is not empty" in rejected.output
    assert "--force" in rejected.output
    assert table_counts(app) == after_edit

    forced = run_restore(app, folder, "--force")
    assert forced.exit_code == 0, forced.output
    assert table_counts(app)["department"] == after_edit["department"] - 1


@pytest.mark.skipif(
    not uses_postgres(),
    reason="SQLite numbers a new row after the largest one in its table, so "
    "only PostgreSQL's sequences remember numbers used before a restore",
)
def test_forced_restore_never_hands_out_an_id_twice(app, filled, tmp_path):
    """Ids and outbox numbers used after the backup stay used after a restore.

    Another host's index may have applied outbox entries past the backup, and
    a link may name a record created after it.
    """
    folder = tmp_path / "backup"
    run_backup(app, folder)
    with app.app_context():
        later = Department(name="备份之后新建的部门")
        db.session.add(later)
        db.session.add(SearchOutbox(doc_type="post", record_id=1))
        db.session.commit()
        used_id = later.id
        used_seq = db.session.scalar(sa.select(sa.func.max(SearchOutbox.seq)))

    assert run_restore(app, folder, "--force").exit_code == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(SearchOutbox.seq))) < used_seq
        again = Department(name="恢复后新建的部门")
        entry = SearchOutbox(doc_type="post", record_id=1)
        db.session.add_all([again, entry])
        db.session.commit()
        assert again.id > used_id
        assert entry.seq > used_seq
