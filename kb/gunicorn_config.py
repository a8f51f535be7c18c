"""Gunicorn settings for serving kb with several worker processes.

Used by ``kb serve`` and usable directly::

    gunicorn -c python:kb.gunicorn_config 'kb:create_app()'

Each worker builds its own application (no preloading), so database
connections and the search index are never shared across a fork. Workers
apply the search outbox in a background thread. An exclusive lock in the
index folder lets one of them write at a time. The others find the new
documents when their searcher detects the index change.

Values come from the environment, so a service unit can set them:

- ``KB_BIND``: address and port, default ``127.0.0.1:8000``. Put a reverse
  proxy or load balancer that terminates HTTPS in front.
- ``KB_WORKERS``: worker processes, default twice the CPU count plus one.
- ``KB_THREADS``: threads per worker, default 4.
- ``FORWARDED_ALLOW_IPS`` (read by gunicorn itself): addresses of the proxies
  whose ``X-Forwarded-Proto`` header is trusted, default 127.0.0.1. A request
  that arrived over HTTPS then gets cookies marked ``Secure`` and a
  ``Strict-Transport-Security`` header (see ``kb.web``); the header from any
  other address is ignored.
"""

import multiprocessing
import os
import sys


def _setting(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        sys.exit(
            f"Error: {name}={raw!r} is invalid; use a whole number "
            f"from {low} to {high}."
        )
    return value


def _bind() -> str:
    raw = os.environ.get("KB_BIND", "127.0.0.1:8000")
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        sys.exit(
            f"Error: KB_BIND={raw!r} is invalid; use HOST:PORT with a port from "
            "1 to 65535, such as 127.0.0.1:8000."
        )
    return raw


bind = _bind()
workers = _setting("KB_WORKERS", multiprocessing.cpu_count() * 2 + 1, 1, 64)
threads = _setting("KB_THREADS", 4, 1, 64)
worker_class = "gthread"
preload_app = False
# A request that takes longer than this is a bug; the worker is replaced.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Replace each worker after a number of requests, so slow leaks stay bounded.
max_requests = 2000
max_requests_jitter = 200
# Several servers may run on one host (tests, staging); none needs the
# control socket, whose default path is shared.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def _app(worker):
    """Return the worker's kb application, or None before it has loaded."""
    app = getattr(worker, "wsgi", None)
    return app if "kb_indexer" in getattr(app, "extensions", {}) else None


def post_worker_init(worker):
    """Start the search thread now rather than at the worker's first request.

    A host that receives no traffic keeps its index in step all the same.
    """
    from kb.search.service import start_indexer_thread

    app = _app(worker)
    if app is not None:
        start_indexer_thread(app)


def worker_exit(server, worker):
    """Let the search thread finish its batch before a worker exits."""
    app = _app(worker)
    if app is not None:
        app.extensions["kb_indexer"].stop_background(timeout=graceful_timeout)
