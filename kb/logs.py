"""Logging set-up shared by the web application and the CLI."""

import logging
import os

from flask import Flask

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _HideRiskPaths(logging.Filter):
    """Drop development-server access lines for /risk/ pages.

    An access line contains the client address and time of a request, which for
    POST /risk/report would tie an anonymous report to a workstation.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return " /risk/" not in record.getMessage()


def configure(app: Flask) -> None:
    """Send the application's logs to stderr once, at the level of ``KB_LOG_LEVEL``."""
    level = os.environ.get("KB_LOG_LEVEL", "INFO").upper()
    root = logging.getLogger("kb")
    root.setLevel(level)
    if not any(getattr(h, "_kb_handler", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._kb_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, _HideRiskPaths) for f in werkzeug.filters):
        werkzeug.addFilter(_HideRiskPaths())
