"""The account creation form for administrators."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from kb.auth.models import ROLES


class UserForm(FlaskForm):
    """Fields are checked by the accounts service, shared with the CLI."""

    username = StringField(_l("用户名"))
    display_name = StringField(_l("姓名"))
    department = StringField(_l("部门"))
    email = StringField(_l("邮箱"), description=_l("选填，每日摘要发送到此地址"))
    role = SelectField(_l("角色"), choices=[SelectChoice(role, role) for role in ROLES])
    password = PasswordField(_l("初始密码"), description=_l("至少 10 个字符"))
