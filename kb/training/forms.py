"""Forms of the training pages; the services check the values."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField


class CourseForm(FlaskForm):
    title = StringField(_l("课程名称"))
    industries = SelectMultipleField(
        _l("行业"),
        validate_choice=False,
        description=_l("国民经济行业分类（GB/T 4754-2017）的门类或大类，可多选"),
    )
    description_md = TextAreaField(_l("课程介绍（Markdown）"))


class LessonForm(FlaskForm):
    title = StringField(_l("课时标题"))
    body_md = TextAreaField(_l("正文（Markdown）"))


class AttachmentForm(FlaskForm):
    file = FileField(_l("文件"))
    lesson_id = SelectField(_l("所属课时"), validate_choice=False)


class LectureForm(FlaskForm):
    title = StringField(_l("讲座标题"))
    course_id = SelectField(_l("关联课程"), validate_choice=False)
    starts_at = StringField(_l("开始时间（北京时间）"))
    ends_at = StringField(_l("结束时间（北京时间）"))
    place = StringField(_l("地点"), description=_l("地点和线上链接至少填写一项"))
    online_url = StringField(_l("线上链接"), description=_l("以 https:// 开头"))
    speaker_username = StringField(
        _l("主讲人账号"), description=_l("填写本系统的用户名")
    )
    speaker_name = StringField(
        _l("主讲人姓名"), description=_l("主讲人没有账号时填写，例如外部讲师")
    )
    capacity = StringField(_l("名额"), description=_l("留空表示不限名额"))
    description = TextAreaField(_l("简介"))
