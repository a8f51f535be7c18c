"""Import every model module so the metadata is complete for migrations."""

from kb.articles.models import Article, ArticleRevision
from kb.auth.models import ApiToken, Department, LoginFailure, User
from kb.clients.models import Client, ClientAccess, ClientAlias
from kb.experts.models import (
    Endorsement,
    ExpertiseIndustry,
    ExpertiseSkill,
    ExpertProfile,
    Skill,
)
from kb.forum.models import (
    AnonymousReportSlot,
    Post,
    PostRevision,
    PostView,
    Reply,
    ReplyRevision,
    RiskStatusChange,
    UsefulMark,
)
from kb.notifications.models import Notification, Subscription
from kb.questions.models import Answer, Question, QuestionRouting
from kb.search.models import SearchOutbox
from kb.taxonomy.models import Industry, Tag
from kb.training.models import (
    Attachment,
    Course,
    Lecture,
    LectureSignup,
    Lesson,
    LessonCompletion,
)

__all__ = [
    "AnonymousReportSlot",
    "Answer",
    "ApiToken",
    "Article",
    "ArticleRevision",
    "Attachment",
    "Client",
    "ClientAccess",
    "ClientAlias",
    "Course",
    "Department",
    "Endorsement",
    "ExpertProfile",
    "ExpertiseIndustry",
    "ExpertiseSkill",
    "Industry",
    "Lecture",
    "LectureSignup",
    "Lesson",
    "LessonCompletion",
    "LoginFailure",
    "Notification",
    "Post",
    "PostRevision",
    "PostView",
    "Question",
    "QuestionRouting",
    "Reply",
    "ReplyRevision",
    "RiskStatusChange",
    "SearchOutbox",
    "Skill",
    "Subscription",
    "Tag",
    "UsefulMark",
    "User",
]
