"""The brief editor form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional


class ArticleForm(FlaskForm):
    """Fields are checked by the articles service so the web and import agree."""

    title = StringField(_l("标题"))
    summary = TextAreaField(_l("摘要"), validators=[Optional()])
    industries = SelectMultipleField(_l("行业"), validate_choice=False)
    tags = StringField(_l("标签"), description=_l("多个标签用逗号或顿号分隔"))
    clients = StringField(
        _l("关联客户"),
        description=_l("填写统一社会信用代码或客户全称，多个用空格或逗号分隔"),
    )
    published_on = StringField(
        _l("发布日期"), description=_l("格式 YYYY-MM-DD，留空为今天")
    )
    source = StringField(_l("来源"))
    source_url = StringField(_l("来源链接"))
    body_md = TextAreaField(_l("正文（Markdown）"))
