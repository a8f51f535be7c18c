"""Forms for asking and answering; the questions service checks the fields."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectMultipleField, StringField, TextAreaField


class QuestionForm(FlaskForm):
    title = StringField(_l("问题"))
    industries = SelectMultipleField(
        _l("行业"),
        validate_choice=False,
        description=_l("按住 Ctrl 或 ⌘ 可多选"),
    )
    skills = StringField(
        _l("专业领域"),
        description=_l("例如 供应链金融、跨境结算；多个用逗号或顿号分隔，最多 10 项"),
    )
    body_md = TextAreaField(_l("问题说明（Markdown，可选）"))
    expert = HiddenField()


class AnswerForm(FlaskForm):
    body_md = TextAreaField(_l("回答（Markdown）"))
