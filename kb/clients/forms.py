"""Forms of the client pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField

# The import page accepts uploads up to this size instead of the application's
# MAX_CONTENT_LENGTH, because Excel workbooks with styles exceed 4 MB sooner.
IMPORT_MAX_MB = 10
# Data rows one upload may have, to keep a request well under a minute.
# NOTE: the limit is an estimate. In one test, 5,000 rows took 12 to 30 seconds
# through the Flask test client on a busy two-core machine. Larger exports go
# through ``kb import clients``, which has no row limit.
IMPORT_MAX_ROWS = 5000


class ImportForm(FlaskForm):
    """Upload of a CRM export. The importer checks the file and its rows."""

    file = FileField(
        _l("文件"),
        description=_l(
            "CSV（UTF-8 或 GBK 编码）或 Excel 工作簿（.xlsx），"
            "最大 %(size)s MB、%(rows)s 行。",
            size=IMPORT_MAX_MB,
            rows=IMPORT_MAX_ROWS,
        ),
    )
    dry_run = BooleanField(_l("仅预览（不保存）"), default=True)
    # A previewed file's stored name and its name as uploaded, so that the
    # preview's import button needs no second upload.
    pending = HiddenField()
    pending_name = HiddenField()


class MergeClientForm(FlaskForm):
    """Merge the client into another; the view checks the code and confirmation."""

    target = StringField(
        _l("并入的客户（统一社会信用代码）"),
        description=_l("本客户的关联情报、简报和访问记录移到该客户，随后删除本客户。"),
    )
    confirm = BooleanField(_l("我确认合并，此操作不可撤销"))


class DeleteClientForm(FlaskForm):
    """Delete the client; its links go, the posts, briefs and access log stay."""

    confirm = BooleanField(_l("我确认删除，此操作不可撤销"))
