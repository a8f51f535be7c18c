"""Gunicorn settings for serving kb with several worker processes.

Used by ``kb serve`` and usable directly::

    gunicorn -c python:kb.gunicorn_config 'kb:create_app()'

Each worker builds its own application (no preloading), so database
connections and the search index are never shared across a fork. Workers
apply the search outbox in a background thread; an exclusive lock in the
index folder lets one of them write at a time, and the others find the new
documents when their searcher sees the index change.

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

bind = os.environ.get("KB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("KB_THREADS", 4))
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


def worker_exit(server, worker):
    """Let the search thread finish its batch before a worker exits."""
    app = getattr(worker, "wsgi", None)
    extensions = getattr(app, "extensions", {})
    if "kb_indexer" in extensions:
        extensions["kb_indexer"].stop_background(timeout=graceful_timeout)
