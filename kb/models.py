"""Import every model module so the metadata is complete for migrations."""

from kb.articles.models import Article, ArticleRevision
from kb.auth.models import ApiToken, Department, LoginFailure, User
from kb.clients.models import Client, ClientAccess, ClientAlias
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
from kb.search.models import SearchOutbox
from kb.taxonomy.models import Industry, Tag

__all__ = [
    "AnonymousReportSlot",
    "ApiToken",
    "Article",
    "ArticleRevision",
    "Client",
    "ClientAccess",
    "ClientAlias",
    "Department",
    "Industry",
    "LoginFailure",
    "Notification",
    "Post",
    "PostRevision",
    "PostView",
    "Reply",
    "ReplyRevision",
    "RiskStatusChange",
    "SearchOutbox",
    "Subscription",
    "Tag",
    "UsefulMark",
    "User",
]
