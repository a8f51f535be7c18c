"""Import every model module so the metadata is complete for migrations."""

from kb.articles.models import Article, ArticleRevision
from kb.auth.models import ApiToken, Department, LoginFailure, User
from kb.search.models import SearchOutbox
from kb.taxonomy.models import Industry, Tag

__all__ = [
    "ApiToken",
    "Article",
    "ArticleRevision",
    "Department",
    "Industry",
    "LoginFailure",
    "SearchOutbox",
    "Tag",
    "User",
]
