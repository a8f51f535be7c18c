"""Forum forms; the forum service checks the fields so web and API agree."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)


class PostForm(FlaskForm):
    title = StringField(_l("标题"))
    signal_type = SelectField(_l("信号类型"), validate_choice=False)
    severity = SelectField(
        _l("风险等级"),
        validate_choice=False,
        description=_l("仅客户风险信号需要填写"),
    )
    visibility = SelectField(_l("可见范围"), validate_choice=False)
    audience = SelectMultipleField(
        _l("可查看的部门"),
        validate_choice=False,
        description=_l(
            "可见范围为“指定部门”时选择；客户风险信号总是对风险管理部门可见"
        ),
    )
    industries = SelectMultipleField(_l("行业"), validate_choice=False)
    tags = StringField(_l("标签"), description=_l("多个标签用逗号或顿号分隔"))
    clients = StringField(
        _l("关联客户"),
        description=_l("填写统一社会信用代码或客户全称，多个用空格或逗号分隔"),
    )
    body_md = TextAreaField(_l("正文（Markdown）"))


class ReplyForm(FlaskForm):
    body_md = TextAreaField(_l("回复（Markdown）"))
    quote_of = HiddenField()


class ReplyEditForm(FlaskForm):
    body_md = TextAreaField(_l("回复（Markdown）"))
