"""Load-test ``kb serve`` with simulated users and check that no write was lost.

Run from the repository root:

    .venv/bin/python -m bench.load --users 50 --requests 2000
    .venv/bin/python -m bench.load --database-url postgresql+psycopg://...

The script prepares an instance folder (a migrated database and one account
per simulated user), starts ``kb serve --workers 4`` with KB_ENV=production on
127.0.0.1, and runs the users as threads until they have sent the requested
number of requests. Each user signs in, then posts to the forum, replies,
searches and opens pages. Every post and reply carries a unique word.

Afterwards it times how long the workers' index threads take to catch up
without ``kb search sync``, and stops the server. Then it checks that every
post and reply whose creation was acknowledged is in the database, that
``kb search check`` is clean, and that searching each unique word finds its
record. It prints a table and exits with status 1 on any error or lost write.

KB_BENCH_PORTS=LOW-HIGH limits the server's port to that range; without it
the operating system picks a free port.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import random
import re
import secrets
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

from kb.search.engine import APPLIED_SEQ_FILE
from kb.search.indexer import Position

REPO_ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "load-password-123"
DEPARTMENTS = ("公司金融部", "授信审批部", "风险管理部", "交易银行部")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
POST_LOCATION_RE = re.compile(r"/forum/(\d+)$")
REPLY_LOCATION_RE = re.compile(r"/forum/(\d+)#reply-(\d+)$")
# Share of each action in a simulated user's loop, in percent.
DEFAULT_MIX = {"post": 25, "reply": 25, "search": 20, "browse": 30}
REQUEST_TIMEOUT = 60.0
# The ``kb`` script installed next to this interpreter.
KB_COMMAND = str(Path(sys.executable).parent / "kb")


# -- instance and server -------------------------------------------------------


def free_port() -> int:
    """Return a free port on 127.0.0.1, from KB_BENCH_PORTS=LOW-HIGH if set."""
    spec = os.environ.get("KB_BENCH_PORTS", "")
    candidates = [0]
    if spec:
        low, high = (int(part) for part in spec.split("-"))
        candidates = list(range(low, high + 1))
        random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in KB_BENCH_PORTS={spec}")


def server_env(instance: Path, database_url: str | None) -> dict[str, str]:
    """Return the environment for ``kb`` commands on this instance."""
    env = dict(os.environ)
    env.pop("KB_DATABASE_URL", None)
    env.update(
        {
            "KB_ENV": "production",
            "KB_SECRET_KEY": env.get("KB_SECRET_KEY") or secrets.token_hex(32),
            "KB_INSTANCE_PATH": str(instance),
            "KB_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database_url:
        env["KB_DATABASE_URL"] = database_url
    return env


def database_url_for(instance: Path, database_url: str | None) -> str:
    return database_url or f"sqlite:///{instance / 'kb.sqlite3'}"


def prepare(instance: Path, database_url: str | None, users: int) -> list[str]:
    """Migrate the database and create ``users`` staff accounts; their names."""
    from flask_migrate import upgrade

    from kb import create_app
    from kb.auth.services import create_user
    from kb.extensions import db

    instance.mkdir(parents=True, exist_ok=True)
    app = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": database_url_for(instance, database_url),
        }
    )
    names = [f"load{number:03d}" for number in range(users)]
    try:
        with app.app_context():
            upgrade()
            for number, name in enumerate(names):
                department = DEPARTMENTS[number % len(DEPARTMENTS)]
                create_user(db.session, name, PASSWORD, "staff", department, name)
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
    finally:
        app.extensions["kb_indexer"].engine.close()
    return names


def run_kb(instance: Path, database_url: str | None, *args: str, timeout=600):
    """Run a ``kb`` command on the instance; return the completed process."""
    return subprocess.run(
        [KB_COMMAND, *args],
        env=server_env(instance, database_url),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Server:
    """``kb serve`` as a child process, stopped by its process id."""

    def __init__(self, instance: Path, database_url: str | None, workers=4, threads=4):
        self.instance = instance
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.log_path = instance / "serve.log"
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self, wait_seconds: float = 60.0) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                KB_COMMAND,
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
            ],
            env=server_env(self.instance, self.database_url),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.wait_ready(wait_seconds)

    def wait_ready(self, wait_seconds: float) -> None:
        """Wait until every worker has started and the login page responds."""
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"kb serve exited with {self.process.returncode}; "
                    f"see {self.log_path}"
                )
            if len(self.worker_pids()) >= self.workers:
                try:
                    status, _, _ = request(self.address, "GET", "/login", {})
                except OSError:
                    status = None
                if status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"kb serve did not respond within {wait_seconds} s")

    def worker_pids(self) -> list[int]:
        """Return the process ids of the gunicorn workers (the master's children)."""
        return child_pids(self.process.pid)

    def stop(self) -> None:
        """Stop gunicorn gracefully by its pid, and kill it if that hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def child_pids(parent: int) -> list[int]:
    """Return the ids of the live processes whose parent is ``parent``."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in brackets may contain spaces; fields follow it.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == parent:
            children.append(int(entry.name))
    return sorted(children)


# -- HTTP ----------------------------------------------------------------------


def request(address, method: str, path: str, cookies: dict, form: dict | None = None):
    """Send one request on a new connection; return status, headers and body.

    A new connection per request means a connection error always belongs to
    this request, never to an idle keep-alive connection the server closed.
    """
    connection = http.client.HTTPConnection(*address, timeout=REQUEST_TIMEOUT)
    try:
        headers = {"Connection": "close"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for raw in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["expires"] and morsel.value == "":
                    cookies.pop(name, None)
                else:
                    cookies[name] = morsel.value
        return response.status, response.headers, text
    finally:
        connection.close()


@dataclass
class Stats:
    """Latencies and errors per endpoint, shared by the user threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies[endpoint].append(seconds)
            if error:
                self.errors[endpoint].append(error)

    def error_count(self, kinds: tuple[str, ...] | None = None) -> int:
        return sum(
            1
            for messages in self.errors.values()
            for message in messages
            if kinds is None or message.split(":")[0] in kinds
        )

    @property
    def total(self) -> int:
        return sum(len(values) for values in self.latencies.values())


@dataclass
class Written:
    """Posts and replies whose creation the server acknowledged."""

    posts: dict[int, str] = field(default_factory=dict)
    replies: dict[int, tuple[int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post_ids(self) -> list[int]:
        with self.lock:
            return list(self.posts)

    def words(self) -> list[str]:
        with self.lock:
            return list(self.posts.values())


class Budget:
    """The total number of requests left to send, taken one at a time."""

    def __init__(self, total: int):
        self.total = total
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.sent = 0

    def take(self) -> bool:
        with self._lock:
            number = next(self._counter)
            if number > self.total:
                return False
            self.sent = number
            return True


def unique_word(rng: random.Random) -> str:
    """Return a word of lowercase letters that no other post or reply contains."""
    return "zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(10))


class BudgetSpent(Exception):
    """Raised in a simulated user when the request budget is used up."""


class SimulatedUser:
    """One signed-in member of staff who posts, replies, searches and reads."""

    def __init__(self, address, username, budget, stats, written, mix, seed):
        self.address = address
        self.username = username
        self.budget = budget
        self.stats = stats
        self.written = written
        self.mix = mix
        self.rng = random.Random(seed)
        self.cookies: dict[str, str] = {}

    def send(self, endpoint, method, path, form=None, expect=(200,)):
        """Send one counted request; return (status, headers, body) or None."""
        if not self.budget.take():
            raise BudgetSpent
        started = time.perf_counter()
        error = None
        result = None
        try:
            result = request(self.address, method, path, self.cookies, form)
        except (OSError, http.client.HTTPException) as exc:
            error = f"connection: {type(exc).__name__}: {exc}"
        else:
            status = result[0]
            if status >= 500:
                error = f"server: {method} {path} returned {status}"
            elif status not in expect:
                error = f"status: {method} {path} returned {status}, expected {expect}"
        self.stats.record(endpoint, time.perf_counter() - started, error)
        return None if error else result

    def run(self) -> None:
        try:
            self.sign_in()
            actions = list(self.mix)
            weights = [self.mix[name] for name in actions]
            while True:
                action = self.rng.choices(actions, weights)[0]
                getattr(self, action)()
        except BudgetSpent:
            return

    def csrf(self, endpoint, path) -> str | None:
        result = self.send(endpoint, "GET", path)
        if result is None:
            return None
        match = CSRF_RE.search(result[2])
        if match is None:
            self.stats.record(endpoint, 0.0, f"status: no CSRF token on {path}")
            return None
        return match.group(1)

    def sign_in(self) -> None:
        signed_in = False
        while not signed_in:
            token = self.csrf("GET /login", "/login")
            if token is None:
                continue
            form = {"username": self.username, "password": PASSWORD}
            form["csrf_token"] = token
            result = self.send("POST /login", "POST", "/login", form, expect=(302,))
            signed_in = result is not None

    def post(self) -> None:
        token = self.csrf("GET /forum/new", "/forum/new")
        if token is None:
            return
        word = unique_word(self.rng)
        form = {
            "csrf_token": token,
            "title": f"负载测试信号 {word}",
            "body_md": f"钢材价格本周上涨，标记 {word}。",
            "signal_type": "market",
            "visibility": "all",
            "severity": "",
            "tags": "",
            "clients": "",
        }
        result = self.send("POST /forum/new", "POST", "/forum/new", form, (302,))
        if result is None:
            return
        match = POST_LOCATION_RE.search(result[1].get("Location", ""))
        if match is None:
            self.stats.record("POST /forum/new", 0.0, "status: no post id")
            return
        with self.written.lock:
            self.written.posts[int(match.group(1))] = word

    def reply(self) -> None:
        post_ids = self.written.post_ids()
        if not post_ids:
            return self.post()
        post_id = self.rng.choice(post_ids)
        token = self.csrf("GET /forum/<id>", f"/forum/{post_id}")
        if token is None:
            return
        word = unique_word(self.rng)
        form = {"csrf_token": token, "body_md": f"收到，补充 {word}。", "quote_of": ""}
        path = f"/forum/{post_id}/replies"
        result = self.send("POST /forum/<id>/replies", "POST", path, form, (302,))
        if result is None:
            return
        match = REPLY_LOCATION_RE.search(result[1].get("Location", ""))
        if match is None:
            self.stats.record("POST /forum/<id>/replies", 0.0, "status: no reply id")
            return
        with self.written.lock:
            self.written.replies[int(match.group(2))] = (post_id, word)

    def search(self) -> None:
        words = self.written.words()
        query = self.rng.choice(words) if words else "钢材"
        self.send("GET /search/", "GET", "/search/?" + urlencode({"q": query}))

    def browse(self) -> None:
        roll = self.rng.random()
        post_ids = self.written.post_ids()
        if roll < 0.4 or not post_ids:
            self.send("GET /forum/", "GET", "/forum/")
        elif roll < 0.8:
            post_id = self.rng.choice(post_ids)
            self.send("GET /forum/<id>", "GET", f"/forum/{post_id}")
        else:
            self.send("GET /", "GET", "/")


@dataclass
class LoadResult:
    stats: Stats
    written: Written
    seconds: float

    @property
    def throughput(self) -> float:
        return self.stats.total / self.seconds if self.seconds else 0.0


def run_load(
    address, usernames, total_requests, mix=None, seed=1, during=None
) -> LoadResult:
    """Run the simulated users until ``total_requests`` have been sent.

    ``during(budget, written)`` runs in its own thread alongside them, for
    fault injection.
    """
    stats, written = Stats(), Written()
    budget = Budget(total_requests)
    users = [
        SimulatedUser(
            address, name, budget, stats, written, mix or DEFAULT_MIX, seed + i
        )
        for i, name in enumerate(usernames)
    ]
    threads = [threading.Thread(target=user.run) for user in users]
    if during is not None:
        threads.append(threading.Thread(target=during, args=(budget, written)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(stats, written, time.perf_counter() - started)


# -- verification ----------------------------------------------------------------


def outbox_position(instance: Path, database_url: str | None) -> tuple[int, int]:
    """Return the seq up to which the index has applied all, and the highest seq.

    An entry still missing below the index's position counts as not applied.
    """
    try:
        text = (instance / "search-index" / APPLIED_SEQ_FILE).read_text()
    except FileNotFoundError:
        text = ""
    position = Position.parse(text)
    applied = min(position.gaps, default=position.seq + 1) - 1
    engine = sa.create_engine(
        database_url_for(instance, database_url), poolclass=sa.NullPool
    )
    try:
        with engine.connect() as connection:
            last = connection.scalar(sa.text("SELECT max(seq) FROM search_outbox"))
    finally:
        engine.dispose()
    return applied, last or 0


def wait_for_index(instance, database_url, timeout: float) -> float | None:
    """Wait until the index has applied the whole outbox; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        applied, last = outbox_position(instance, database_url)
        if applied >= last:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


@dataclass
class Verification:
    lost_posts: list[int] = field(default_factory=list)
    lost_replies: list[int] = field(default_factory=list)
    posts_in_db: int = 0
    replies_in_db: int = 0
    check_output: str = ""
    check_clean: bool = False
    not_found: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.lost_posts
            and not self.lost_replies
            and self.check_clean
            and not self.not_found
        )


def verify(instance: Path, database_url: str | None, written: Written) -> Verification:
    """Compare acknowledged writes with the database, the index and searches.

    Run it after the server has stopped and the index has caught up.
    """
    from kb import create_app
    from kb.extensions import db
    from kb.forum.models import Post, Reply

    result = Verification()
    app = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": database_url_for(instance, database_url),
        }
    )
    engine = app.extensions["kb_indexer"].engine
    try:
        with app.app_context():
            posts = dict(db.session.execute(sa.select(Post.id, Post.title)).all())
            replies = dict(db.session.execute(sa.select(Reply.id, Reply.body_md)).all())
            db.session.remove()
        result.posts_in_db, result.replies_in_db = len(posts), len(replies)
        result.lost_posts = sorted(
            post_id
            for post_id, word in written.posts.items()
            if word not in posts.get(post_id, "")
        )
        result.lost_replies = sorted(
            reply_id
            for reply_id, (_, word) in written.replies.items()
            if word not in replies.get(reply_id, "")
        )
        checks = [("post", i, w) for i, w in written.posts.items()]
        checks += [("reply", i, w) for i, (_, w) in written.replies.items()]
        for doc_type, record_id, word in checks:
            page = engine.search(word, types=(doc_type,), acl=None, snippets=False)
            if record_id not in {hit.record_id for hit in page.hits}:
                result.not_found.append(f"{doc_type}:{record_id} ({word})")
        # `kb search check`, run in this process to save starting another one.
        check = app.test_cli_runner().invoke(args=["search", "check"])
        result.check_output = check.output.strip()
        result.check_clean = check.exit_code == 0
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        engine.close()
    return result


# -- report ----------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[
        round(fraction * 100) - 1
    ]


def table(stats: Stats) -> str:
    """Return the per-endpoint table: count, p50 and p95 in ms, errors."""
    lines = [f"{'endpoint':<28} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}"]
    for endpoint in sorted(stats.latencies):
        values = stats.latencies[endpoint]
        lines.append(
            f"{endpoint:<28} {len(values):>6} {percentile(values, 0.5) * 1000:>8.1f} "
            f"{percentile(values, 0.95) * 1000:>8.1f} {len(stats.errors[endpoint]):>6}"
        )
    return "\n".join(lines)


def print_errors(stats: Stats, limit: int = 20) -> None:
    counted = 0
    for endpoint, messages in sorted(stats.errors.items()):
        for message in messages:
            if counted < limit:
                print(f"  {endpoint}: {message}")
            counted += 1
    if counted > limit:
        print(f"  ... and {counted - limit} more")


def server_tracebacks(log: str, limit: int = 3) -> list[str]:
    """Return the first ``limit`` tracebacks in a server log, each with its header."""
    lines = log.splitlines()
    found = []
    for number, line in enumerate(lines):
        if not line.startswith("Traceback") or len(found) >= limit:
            continue
        end = number + 1
        while end < len(lines) and (
            lines[end].startswith((" ", "\t")) or not lines[end]
        ):
            end += 1
        # The exception line follows the indented frames.
        found.append("\n".join(lines[max(0, number - 1) : end + 1]))
    return found


def print_verification(found: Verification, written: Written) -> None:
    print(
        f"acknowledged: {len(written.posts)} posts, {len(written.replies)} replies; "
        f"in the database: {found.posts_in_db} posts, {found.replies_in_db} replies"
    )
    print(f"lost posts: {found.lost_posts or 'none'}")
    print(f"lost replies: {found.lost_replies or 'none'}")
    print(f"kb search check: {found.check_output.splitlines()[-1:]}")
    print(f"records whose word finds nothing: {found.not_found[:20] or 'none'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL of an empty database; SQLite in the instance if unset.",
    )
    parser.add_argument(
        "--instance", default=None, help="Instance folder; a temporary one if unset."
    )
    parser.add_argument(
        "--index-wait",
        type=float,
        default=30.0,
        help="Seconds to wait for the index to catch up before running sync.",
    )
    args = parser.parse_args(argv)
    # Quiet this process's logs; the server it starts logs at INFO.
    os.environ.setdefault("KB_LOG_LEVEL", "WARNING")

    with tempfile.TemporaryDirectory(prefix="kb-load-") as scratch:
        instance = Path(args.instance or Path(scratch) / "instance")
        names = prepare(instance, args.database_url, args.users)
        server = Server(instance, args.database_url, args.workers, args.threads)
        server.start()
        try:
            print(
                f"kb serve on 127.0.0.1:{server.port}, {args.workers} workers x "
                f"{args.threads} threads; {args.users} users, {args.requests} requests"
            )
            load = run_load(server.address, names, args.requests)
            caught_up = wait_for_index(instance, args.database_url, args.index_wait)
        finally:
            server.stop()
        tracebacks = server_tracebacks(server.log_text())
        if caught_up is None:
            print(f"index not caught up after {args.index_wait} s; running sync")
            print(run_kb(instance, args.database_url, "search", "sync").stdout.strip())
        else:
            print(f"index caught up {caught_up:.2f} s after the load, without sync")
        found = verify(instance, args.database_url, load.written)

    print()
    print(table(load.stats))
    print(
        f"\n{load.stats.total} requests in {load.seconds:.1f} s: "
        f"{load.throughput:.1f} requests/s"
    )
    errors = load.stats.error_count()
    print(f"errors: {errors}")
    print_errors(load.stats)
    for traceback in tracebacks:
        print(f"server log:\n{traceback}")
    print_verification(found, load.written)
    return 0 if errors == 0 and found.ok else 1


if __name__ == "__main__":
    sys.exit(main())
