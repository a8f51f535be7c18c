"""Forms of the anonymous report and the receipt pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)


class AnonymousReportForm(FlaskForm):
    """Input checks live in the forum service (``validate_post``), not here."""

    title = StringField(_l("标题"))
    body_md = TextAreaField(_l("情况说明（Markdown）"))
    severity = SelectField(
        _l("风险等级"),
        choices=[
            SelectChoice("", _l("请选择")),
            SelectChoice("high", _l("高")),
            SelectChoice("medium", _l("中")),
            SelectChoice("low", _l("低")),
        ],
        validate_choice=False,
    )
    industries = SelectMultipleField(
        _l("行业"),
        validate_choice=False,
        description=_l("可多选，按住 Ctrl 或 ⌘ 键点选"),
    )
    tags = StringField(_l("标签"), description=_l("多个标签用逗号或顿号分隔"))


class ReceiptForm(FlaskForm):
    code = StringField(
        _l("回执码"),
        description=_l("提交报告时显示的 16 位回执码，不区分大小写，可省略横线"),
    )


class ReceiptReplyForm(FlaskForm):
    """A reporter's reply. The receipt code travels in a hidden field, not the URL."""

    code = HiddenField()
    body_md = TextAreaField(_l("回复（Markdown）"))
