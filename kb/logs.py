"""Logging set-up shared by the web application and the CLI."""

import logging
import os

from flask import Flask

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
