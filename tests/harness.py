"""One harness for the end-to-end tests (a live scheduler, the Celery stack) and `make stack`.

- **One metadata server** per test session: the embedded PostgreSQL of ``make up``
  (``scripts/embedded_pg.py``), data in ``.airflow/test-postgres`` (kept across sessions, fsync off).
- **One pre-migrated template**: ``airflow db migrate`` and the ``duckdb`` pool run once per Airflow
  version; every deployment gets its own database cloned from it (``CREATE DATABASE ... TEMPLATE``),
  fresh in about a second.
- **Every server under control**: ``with Airflow(...) as af:`` starts the components (api-server,
  scheduler, dag-processor, triggerer, Celery workers) on free ports, each in its own session with its
  log in a file; leaving the block stops them by process group, drops the database and frees the Redis
  database, also on failure and Ctrl-C. ``af.report()`` is the tail of every log, for a failing test.
- **The REST API** the UI calls (JWT from ``/auth/token``): DAGs, runs, task instances, backfills.
"""
from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from airflow_rest import RestApi  # noqa: E402
from embedded_pg import EmbeddedPostgres, free_port, tail  # noqa: E402
from local_airflow import (  # noqa: E402
    LOCAL_TUNING,
    Processes,
    airflow_argv,
    bin_path,
    kill_registered,
    prepare_metadata,
)

PG_DIR = REPO / ".airflow" / "test-postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
TERMINAL = {"success", "failed"}
# What DuckDB says when a second process opens a file another one holds.
LOCK_ERROR = re.compile(r"could not set lock on file|conflicting lock is held|locked by another process",
                        re.IGNORECASE)

_server: EmbeddedPostgres | None = None


@contextlib.contextmanager
def _file_lock(suffix: str = ".lock"):
    """An exclusive lock beside PG_DIR, across processes (overlapping sessions, pytest-xdist workers)."""
    import fcntl

    PG_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(PG_DIR.with_name(PG_DIR.name + suffix), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _server_lock():
    """One process at a time decides to start or stop the shared server (two sessions may overlap)."""
    return _file_lock()


def _users() -> Path:
    return PG_DIR.with_name(PG_DIR.name + ".users")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def metadata_server() -> EmbeddedPostgres:
    """The session's PostgreSQL: started on first use (or adopted from an overlapping session), and
    stopped when the last process using it exits."""
    global _server
    if _server is None:
        with _server_lock():
            _users().mkdir(exist_ok=True)
            (_users() / str(os.getpid())).touch()
            _server = EmbeddedPostgres(PG_DIR, durable=False).start()
        atexit.register(_release_server)
    return _server


def _release_server() -> None:
    with _server_lock():
        (_users() / str(os.getpid())).unlink(missing_ok=True)
        for user in _users().iterdir():
            if not _alive(int(user.name)):
                user.unlink(missing_ok=True)  # a session that was killed
        if not any(_users().iterdir()) and _server is not None:
            _server.stop()


def template_database(pg: EmbeddedPostgres) -> str:
    """A migrated Airflow metadata database with the one-slot duckdb pool, built once per Airflow version."""
    import airflow

    name = "airflow_template_" + re.sub(r"\W", "_", airflow.__version__)
    if pg.has_database(name):
        return name
    with _file_lock(".template.lock"):  # two deployments starting at once: one migrates, the other waits
        if not pg.has_database(name):
            _build_template(pg, name)
    return name


def _build_template(pg: EmbeddedPostgres, name: str) -> None:
    building = f"{name}_build_{secrets.token_hex(3)}"
    pg.create_database(building)
    env = {**_clean_environ(), "AIRFLOW_HOME": tempfile.mkdtemp(prefix="empathy-migrate-"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url(building), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    try:
        prepare_metadata(env, Path(env["AIRFLOW_HOME"]) / "db-migrate.log")
        pg.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')  # published only when complete
    finally:
        pg.drop_database(building)
        shutil.rmtree(env["AIRFLOW_HOME"], ignore_errors=True)


def _run(argv, env, timeout=600):
    import subprocess

    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _clean_environ() -> dict:
    """This process's environment without Airflow's or Empathy's settings (a developer's never leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EMPATHY_", "_AIRFLOW"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "include"), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def redis_unreachable() -> str | None:
    """Why the Celery stack cannot run here (no Redis broker), or None."""
    try:
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable Redis"
        return f"Redis on {REDIS_HOST}:{REDIS_PORT} unreachable: {exc}"
    return None


@dataclass
class Airflow(RestApi):
    """One throwaway Airflow deployment on the session's PostgreSQL.

    ``executor``: ``LocalExecutor`` (the ``make up`` shape) or ``CeleryExecutor`` (the compose shape:
    a ``duckdb``-queue worker with concurrency 1 that sees EMPATHY_HOME, and a default-queue worker
    whose EMPATHY_HOME is unusable, so a task wrongly routed there fails loudly).
    ``via_up``: start the deployment with ``make up``'s own command (``local_airflow.py up``, on this
    deployment's database) instead of the components one by one: the tests then run on what ships.
    """

    executor: str = "LocalExecutor"
    dags_folder: Path = REPO / "dags"
    extra_env: dict = field(default_factory=dict)
    parallelism: int = 4
    default_concurrency: int = 2
    keep_files: bool = False
    verbose: bool = False
    preload: bool = True  # the scheduler imports the task-time modules before forking (as make up does)
    via_up: bool = False

    def __post_init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="empathy-e2e-"))
        self.tag = secrets.token_hex(4)
        self.db_name = f"airflow_e2e_{self.tag}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.fernet_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        self.jwt_secret = secrets.token_urlsafe(32)
        self.empathy_home = self.root / "empathy"
        self.work_dir = self.root / "work"
        self.logs = self.root / "logs"
        self.pg: EmbeddedPostgres | None = None
        self.redis_db: int | None = None
        self.procs = Processes(cwd=self.root)
        self._token: str | None = None
        self._db_created = False
        self._log_ports = (free_port(), free_port())

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            print(self.report())
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def say(self, msg: str) -> None:
        if self.verbose:
            print(f"[airflow {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def start(self) -> None:
        celery = self.executor == "CeleryExecutor"
        if celery and (reason := redis_unreachable()):
            raise RuntimeError(reason)
        for d in (self.empathy_home / "landing", self.work_dir, self.logs, self.root / "airflow"):
            d.mkdir(parents=True, exist_ok=True)
        self.pg = metadata_server()
        self.pg.create_database(self.db_name, template=template_database(self.pg))
        self._db_created = True
        if celery:
            (self.root / "NOT-THE-DUCKDB-WORKER").write_text("tasks on this worker must not open DuckDB\n")
            self._claim_redis_db()
        self.say(f"metadata db {self.db_name} on 127.0.0.1:{self.pg.port}; files in {self.root}")
        if self.via_up:
            self.procs.spawn("up", [sys.executable, str(REPO / "scripts" / "local_airflow.py"), "up"],
                             {**self.env(), "AIRFLOW__API__PORT": str(self.port)}, self.root / "up.log")
            self.wait(self._all_healthy, 300, "make up's components to be healthy")
            self.say(f"up (make up): {self.url} (admin / {self.password})")
            return
        self._spawn("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"])
        for name in ("scheduler", "dag-processor", "triggerer"):
            self._spawn(name, [name])
        if celery:
            self._spawn("worker-duckdb", ["celery", "worker", "--queues", "duckdb", "--concurrency", "1",
                                          "--celery-hostname", f"duckdb-{self.tag}@%h",
                                          "--without-mingle", "--without-gossip"], role="duckdb")
            self._spawn("worker-default", ["celery", "worker", "--queues", "default",
                                           "--concurrency", str(self.default_concurrency),
                                           "--celery-hostname", f"default-{self.tag}@%h",
                                           "--without-mingle", "--without-gossip"], role="default")
        self.wait(lambda: self._get("/api/v2/monitor/health", auth=False), 300, "the api-server")
        self.say(f"up: {self.url} (admin / {self.password})")

    def _all_healthy(self):
        status = self._get("/api/v2/monitor/health", auth=False)
        return status and all((v or {}).get("status") == "healthy" for v in status.values())

    def stop(self) -> None:
        """Stop every process we started, drop the database, free the Redis database, remove the files."""
        self.procs.stop_all()
        kill_registered(self.root / "airflow" / "components.json")  # what `up` left, had it been killed
        if self.redis_db is not None:
            with contextlib.suppress(Exception):
                import redis

                redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.redis_db).flushdb()
            self.redis_db = None
        if self._db_created and self.pg is not None:
            with contextlib.suppress(Exception):
                self.pg.drop_database(self.db_name)
            self._db_created = False
        if not self.keep_files:
            shutil.rmtree(self.root, ignore_errors=True)

    def report(self, chars: int = 3000) -> str:
        """The tail of every component's log: what a failing test prints."""
        parts = [f"--- {p.name} (exit {p.popen.poll() if p.popen else '-'}, {p.log}) ---\n{tail(p.log, chars)}"
                 for p in self.procs.procs]
        parts += [f"--- {log.stem} ({log}) ---\n{tail(log, chars)}"
                  for log in sorted((self.root / "airflow" / "logs" / "components").glob("*.log"))]
        return "\n".join(parts) or "(no component started)"

    def _claim_redis_db(self) -> None:
        """An empty Redis database number, claimed with a marker key so a parallel stack picks another."""
        import redis

        for n in secrets.SystemRandom().sample(range(1, 16), 15):
            r = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=n)
            if r.dbsize() == 0 and r.set("empathy-stack-claim", self.tag, nx=True):
                self.redis_db = n
                return
        raise RuntimeError("no free Redis database (1-15) for the Celery broker")

    def env(self, role: str = "core") -> dict:
        """The environment of one component; ``role`` is core, duckdb (worker) or default (worker)."""
        env = _clean_environ()
        pg = self.pg.url(self.db_name)
        env.update({
            "AIRFLOW_HOME": str(self.root / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self._passwords_file()),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._log_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self._log_ports[1]),
            **{k: v for k, v in LOCAL_TUNING.items() if k.startswith(("AIRFLOW__SCHEDULER__", "AIRFLOW__DAG_PROC"))},
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            # the landing watcher is registered when the DAG file is parsed unpaused: parse often, look often
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "EMPATHY_LANDING_POLL_S": "1",
            "EMPATHY_HOME": str(self.empathy_home),
            "EMPATHY_WORK_DIR": str(self.work_dir),
            "EMPATHY_OUTBOX_DIR": str(self.root / "outbox"),
            "EMPATHY_LANDING_SETTLE_S": "0",
            "PYTHONUNBUFFERED": "1",
        })
        if self.executor == "CeleryExecutor":
            env.update({
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg.replace("postgresql+psycopg2", "postgresql"),
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": "default",
                "EMPATHY_DUCKDB_QUEUE": "duckdb",
            })
        if role == "default":
            env["EMPATHY_HOME"] = str(self.root / "NOT-THE-DUCKDB-WORKER" / "empathy")
        env.update(self.extra_env)
        return env

    def _passwords_file(self) -> Path:
        path = self.root / "airflow" / "passwords.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"admin": self.password}))
        return path

    def _spawn(self, name: str, args: list[str], role: str = "core") -> None:
        argv = airflow_argv(*args) if self.preload else [bin_path("airflow"), *args]
        self.procs.spawn(name, argv, self.env(role), self.root / f"{name}.log")

    def cli(self, *args: str, timeout: float = 300) -> str:
        out = _run([bin_path("airflow"), *args], self.env(), timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return out.stdout

    def check_alive(self) -> None:
        for proc in self.procs.exited():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail(proc.log)}")

    def wait(self, predicate, timeout: float, what: str, every: float = 2.0):
        """Poll ``predicate`` until truthy; fails at once when a component has exited."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                value = predicate()
            except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:  # a busy api-server
                self.say(f"still waiting for {what}: {type(exc).__name__}")
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(every)

    # --- what the logs say -------------------------------------------------------------------------

    def lock_errors(self) -> list[str]:
        """Lines of task logs where DuckDB refused a lock (should never happen with the pool)."""
        hits = []
        for path in sorted(self.logs.rglob("*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if LOCK_ERROR.search(line):
                    hits.append(f"{path.relative_to(self.logs)}: {line.strip()[:300]}")
        return hits

    def executed_on(self) -> dict[str, set[str]]:
        """Which Celery worker executed which task ids (from the workers' own logs)."""
        seen: dict[str, set[str]] = {}
        for p in self.procs.procs:
            if p.name.startswith("worker-"):
                text = p.log.read_text(errors="replace")
                seen[p.name] = set(re.findall(r"Executing workload in Celery:.*?task_id='([^']+)'", text))
        return seen

    def restarts(self) -> dict[str, int]:
        """Components that exited (name -> exit code or "restarted by up"): a healthy deployment has none."""
        exited: dict = {p.name: p.popen.returncode for p in self.procs.exited()}
        if self.via_up:
            for name in re.findall(r"\] (\S+) exited \(", tail(self.root / "up.log", 10**7)):
                exited[name] = "restarted by up"
        return exited


def demo_data(af: Airflow, *extra: str) -> None:
    """Demo events into the deployment's landing folder (the project's own generator)."""
    out = _run([sys.executable, "-m", "empathy", "demo-data", "--landing", str(af.empathy_home / "landing"),
                *extra], af.env("duckdb"))
    if out.returncode != 0:
        raise RuntimeError(f"demo-data failed: {out.stderr[-2000:]}")
