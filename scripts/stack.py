"""A production-shaped Airflow on this machine, without Docker (``make stack``).

Same shape as docker-compose.yaml: metadata in PostgreSQL (a fresh database, dropped at the end),
CeleryExecutor with Redis as broker (a free Redis database number) and Postgres as result backend,
and the scheduler, dag-processor, triggerer, api-server and two Celery workers as separate
processes:

- ``duckdb`` worker: ``--queues duckdb --concurrency 1``, the only process that sees EMPATHY_HOME
  (the DuckDB file, landing/, outbox/);
- ``default`` worker: the default queue, sees only the shared hand-off folder (EMPATHY_WORK_DIR).
  Its EMPATHY_HOME points *under a regular file*, so a task wrongly routed there fails loudly
  instead of quietly creating a second database.

Everything lives in one temporary directory and every process is started in its own session and
stopped by its process-group id on exit, also on Ctrl-C or an error: nothing is left behind.

Usage: ``python scripts/stack.py`` runs empathy_pipeline twice, overlapping (a scheduled run and
one started by the landing watch DAG), prints a summary and exits 0 only if both runs succeeded
with no DuckDB lock error in any task log. ``--smoke`` checks the stack alone with a tiny DAG
(queue routing, pool), ``--keep`` leaves the stack up until Ctrl-C (UI on the printed URL).
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

REPO = Path(__file__).resolve().parents[1]
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
DUCKDB_QUEUE = os.environ.get("EMPATHY_DUCKDB_QUEUE", "duckdb")
DEFAULT_QUEUE = "default"
PIPELINE = "empathy_pipeline"
WATCH = "empathy_landing_watch"
# What DuckDB says when a second process opens a file another one holds (and store.py's retry, if it logs).
LOCK_ERROR = re.compile(r"could not set lock on file|conflicting lock is held|locked by another process",
                        re.IGNORECASE)
TERMINAL = {"success", "failed"}


def _bin(name: str) -> str:
    """A console script of this interpreter's environment (the repo's .venv under make)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable() -> str | None:
    """Why the stack cannot run here (PostgreSQL or Redis not reachable), or None."""
    try:
        import psycopg

        psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable Postgres"
        return f"PostgreSQL on {PG_HOST}:{PG_PORT} (user {PG_USER}) unreachable: {exc}"
    try:
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis on {REDIS_HOST}:{REDIS_PORT} unreachable: {exc}"
    return None


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path


@dataclass
class Stack:
    """One throwaway Airflow deployment; use as a context manager (``with Stack() as s: ...``)."""

    dags_folder: Path = REPO / "dags"
    extra_env: dict = field(default_factory=dict)
    default_concurrency: int = 2
    verbose: bool = True
    keep_files: bool = False  # keep the temp dir (logs, DuckDB file) after stop, for debugging

    def __post_init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="empathy-stack-"))
        self.tag = secrets.token_hex(4)
        self.db_name = f"empathy_airflow_{self.tag}"
        self.redis_db: int | None = None
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.fernet_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        self.jwt_secret = secrets.token_urlsafe(32)
        self.procs: list[Proc] = []
        self.empathy_home = self.root / "empathy"
        self.work_dir = self.root / "work"
        self.logs = self.root / "logs"
        self._token: str | None = None
        self._db_created = False

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def say(self, msg: str) -> None:
        if self.verbose:
            print(f"[stack {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def start(self) -> None:
        reason = unreachable()
        if reason:
            raise RuntimeError(reason)
        for d in (self.empathy_home / "landing", self.work_dir, self.logs, self.root / "airflow"):
            d.mkdir(parents=True, exist_ok=True)
        # Default-queue workers get an EMPATHY_HOME under a regular file: mkdir fails, even as root.
        (self.root / "NOT-THE-DUCKDB-WORKER").write_text("tasks on this worker must not open DuckDB\n")
        self._create_database()
        self._claim_redis_db()
        self.say(f"metadata db {self.db_name}, broker redis db {self.redis_db}, home {self.root}")
        self._run_cli(["db", "migrate"], timeout=600)
        self.say("db migrated; starting components")
        self._spawn("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"])
        self._spawn("scheduler", ["scheduler"])
        self._spawn("dag-processor", ["dag-processor"])
        self._spawn("triggerer", ["triggerer"])
        self._spawn("worker-duckdb", ["celery", "worker", "--queues", DUCKDB_QUEUE, "--concurrency", "1",
                                      "--celery-hostname", f"duckdb-{self.tag}@%h",
                                      "--without-mingle", "--without-gossip"], role="duckdb")
        self._spawn("worker-default", ["celery", "worker", "--queues", DEFAULT_QUEUE,
                                       "--concurrency", str(self.default_concurrency),
                                       "--celery-hostname", f"default-{self.tag}@%h",
                                       "--without-mingle", "--without-gossip"], role="default")
        self._wait(lambda: self._get("/api/v2/monitor/health", auth=False) is not None, 300, "api-server health")
        self.api("POST", "/api/v2/pools", {"name": "duckdb", "slots": 1, "include_deferred": False,
                                           "description": "DuckDB allows one writer: one task at a time"})
        self.say(f"up: {self.url} (admin / {self.password})")

    def stop(self) -> None:
        """Stop every process we started (by process group), drop the database, free the Redis db."""
        for p in reversed(self.procs):
            if p.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for p in self.procs:
            try:
                p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):  # children of an exited leader, or a stuck one
                os.killpg(p.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=10)
        self.procs.clear()
        if self.redis_db is not None:
            with contextlib.suppress(Exception):
                import redis

                redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.redis_db).flushdb()
            self.redis_db = None
        if self._db_created:
            with contextlib.suppress(Exception):
                import psycopg

                with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                                     autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self._db_created = False
        if not self.keep_files:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- plumbing ------------------------------------------------------------------------------

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{self.db_name}"')
        self._db_created = True

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
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW", "EMPATHY_", "_AIRFLOW"))}
        pg = f"{PG_USER}@{PG_HOST}:{PG_PORT}/{self.db_name}"
        env.update({
            "AIRFLOW_HOME": str(self.root / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self._passwords_file()),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{pg}",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": DEFAULT_QUEUE,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "EMPATHY_DUCKDB_QUEUE": DUCKDB_QUEUE,
            "EMPATHY_WORK_DIR": str(self.work_dir),
            "EMPATHY_OUTBOX_DIR": str(self.root / "outbox"),
            "EMPATHY_HOME": str(self.empathy_home),
            "PYTHONUNBUFFERED": "1",
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

    def _run_cli(self, args: list[str], timeout: float = 300) -> str:
        out = subprocess.run([_bin("airflow"), *args], env=self.env(), cwd=self.root, capture_output=True,
                             text=True, timeout=timeout, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return out.stdout

    def _spawn(self, name: str, args: list[str], role: str = "core") -> None:
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen([_bin("airflow"), *args], env=self.env(role), cwd=self.root,
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.procs.append(Proc(name, popen, log))

    def check_alive(self) -> None:
        for p in self.procs:
            if p.popen.poll() is not None:
                tail = p.log.read_text(errors="replace")[-4000:]
                raise RuntimeError(f"{p.name} exited with {p.popen.returncode}:\n{tail}")

    def _wait(self, predicate, timeout: float, what: str, every: float = 2.0):
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

    # --- REST API ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body=None, auth: bool = True):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else {}

    def _get(self, path: str, auth: bool = True):
        """GET, or None while the server is not answering (or answers 404)."""
        try:
            return self._request("GET", path, auth=auth)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return None

    def token(self) -> str:
        if self._token is None:
            req = urllib.request.Request(
                f"{self.url}/auth/token", method="POST", headers={"Content-Type": "application/json"},
                data=json.dumps({"username": "admin", "password": self.password}).encode())
            with urllib.request.urlopen(req, timeout=120) as resp:
                self._token = json.loads(resp.read())["access_token"]
        return self._token

    def api(self, method: str, path: str, body=None):
        try:
            return self._request(method, path, body)
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path} -> {exc.code}: {exc.read()[:2000]!r}") from exc

    # --- DAGs and runs -------------------------------------------------------------------------

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> dict:
        def parsed():
            errors = self._get("/api/v2/importErrors") or {}
            if errors.get("import_errors"):
                raise RuntimeError(f"DAG import errors: {json.dumps(errors['import_errors'])[:4000]}")
            return self._get(f"/api/v2/dags/{dag_id}")
        return self._wait(parsed, timeout, f"DAG {dag_id} to be parsed")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, run_id: str, conf: dict | None = None, logical_date: str | None = None) -> str:
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf or {}}
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        quoted = urllib.request.quote(run_id, safe="")
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=1000")[
            "task_instances"]

    def wait_for_runs(self, dag_id: str, count: int, timeout: float) -> list[dict]:
        """Wait until ``count`` runs of ``dag_id`` exist and all are finished; returns them."""
        def done():
            runs = self.runs(dag_id)
            if len(runs) >= count and all(r["state"] in TERMINAL for r in runs):
                return runs
            return None
        return self._wait(done, timeout, f"{count} finished run(s) of {dag_id}", every=3.0)

    def lock_errors(self) -> list[str]:
        """Lines of task logs where DuckDB refused a lock (should never happen with the queue + pool)."""
        hits = []
        for path in sorted(self.logs.rglob("*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if LOCK_ERROR.search(line):
                    hits.append(f"{path.relative_to(self.logs)}: {line.strip()[:300]}")
        return hits

    def executed_on(self) -> dict[str, set[str]]:
        """Which worker executed which task ids (from the Celery workers' own logs)."""
        seen: dict[str, set[str]] = {}
        for p in self.procs:
            if p.name.startswith("worker-"):
                text = p.log.read_text(errors="replace")
                seen[p.name] = set(re.findall(r"Executing workload in Celery:.*?task_id='([^']+)'", text))
        return seen


# --- the two things ``make stack`` can do ----------------------------------------------------------

SMOKE_DAG = textwrap.dedent('''
    """Stack smoke test: one task on the duckdb queue and pool, one on the default queue."""
    import os
    from datetime import datetime
    from airflow.sdk import dag, task

    @dag(dag_id="stack_smoke", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
    def stack_smoke():
        @task(queue=os.environ.get("EMPATHY_DUCKDB_QUEUE", "duckdb"), pool="duckdb")
        def on_duckdb_worker():
            import duckdb
            home = os.environ["EMPATHY_HOME"]
            os.makedirs(home, exist_ok=True)
            con = duckdb.connect(os.path.join(home, "smoke.duckdb"))
            con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 42 AS answer")
            return con.execute("SELECT answer FROM t").fetchone()[0]

        @task
        def on_default_worker(answer):
            return {"answer": answer, "home_usable": os.path.isdir(os.path.dirname(os.environ["EMPATHY_HOME"]))}

        on_default_worker(on_duckdb_worker())

    stack_smoke()
''')


def smoke(stack_kwargs: dict | None = None) -> int:
    dags = Path(tempfile.mkdtemp(prefix="empathy-smoke-dags-"))
    (dags / "stack_smoke.py").write_text(SMOKE_DAG)
    try:
        with Stack(dags_folder=dags, **(stack_kwargs or {})) as s:
            s.wait_for_dag("stack_smoke")
            s.unpause("stack_smoke")
            s.trigger("stack_smoke", "smoke-1")
            runs = s.wait_for_runs("stack_smoke", 1, 300)
            tis = {t["task_id"]: t for t in s.task_instances("stack_smoke", "smoke-1")}
            where = s.executed_on()
            ok = (runs[0]["state"] == "success"
                  and "on_duckdb_worker" in where.get("worker-duckdb", set())
                  and "on_default_worker" in where.get("worker-default", set()))
            for t in tis.values():
                print(f"  {t['task_id']:<20} {t['state']:<8} queue={t['queue']} pool={t['pool']}")
            print(f"  executed on: { {k: sorted(v) for k, v in where.items()} }")
            print("smoke:", "OK" if ok else "FAILED")
            return 0 if ok else 1
    finally:
        shutil.rmtree(dags, ignore_errors=True)


def demo_data(stack: Stack, *extra: str) -> None:
    """Demo events into the stack's landing folder (the project's own generator)."""
    env = stack.env("duckdb")
    subprocess.run([sys.executable, "-m", "empathy", "demo-data", "--landing",
                    str(stack.empathy_home / "landing"), *extra], env=env, check=True, cwd=REPO)


def _hour_floor() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def pipeline(stack: Stack, timeout: float = 600) -> dict:
    """empathy_pipeline twice at once, the issue's way: a scheduled run and one started by the landing watch.

    The watch DAG goes first, while empathy_pipeline is still paused, so its run exists (queued) before
    the schedule's; unpausing empathy_pipeline then starts both together (max_active_runs=2), and the
    one-slot pool on the duckdb queue is all that keeps their DuckDB tasks apart.
    """
    demo_data(stack, "--start", _hour_floor().isoformat())
    stack.wait_for_dag(PIPELINE)
    stack.wait_for_dag(WATCH)
    started = time.monotonic()
    stack.unpause(WATCH)
    stack._wait(lambda: [r for r in stack.runs(PIPELINE) if r["dag_run_id"].startswith("landing__")],
                timeout, "the landing watch to trigger empathy_pipeline", every=3.0)
    stack.unpause(PIPELINE)  # catchup is off: the schedule adds its latest data interval
    stack.api("PATCH", f"/api/v2/dags/{WATCH}", {"is_paused": True})

    def finished():
        runs = stack.runs(PIPELINE)
        kinds = {r["run_type"] for r in runs}
        if "scheduled" in kinds and len(runs) >= 2 and all(r["state"] in TERMINAL for r in runs):
            return runs
        return None
    runs = stack._wait(finished, timeout, "the scheduled and the sensor-triggered pipeline runs", every=3.0)
    elapsed = time.monotonic() - started
    stack.api("PATCH", f"/api/v2/dags/{PIPELINE}", {"is_paused": True})
    tasks = {r["dag_run_id"]: stack.task_instances(PIPELINE, r["dag_run_id"]) for r in runs}
    return {"runs": runs, "tasks": tasks, "lock_errors": stack.lock_errors(), "executed_on": stack.executed_on(),
            "seconds": elapsed, "db_path": stack.empathy_home / "empathy.duckdb"}


def summary(result: dict) -> str:
    lines = [f"empathy_pipeline on CeleryExecutor: {len(result['runs'])} run(s) in {result['seconds']:.0f}s"]
    for run in result["runs"]:
        lines.append(f"  run {run['dag_run_id']} ({run['run_type']}): {run['state']}")
        for t in sorted(result["tasks"][run["dag_run_id"]], key=lambda t: t.get("start_date") or ""):
            lines.append(f"    {t['task_id']:<32} {t['state']!s:<10} queue={t['queue']:<8} pool={t['pool']}"
                         f" {t.get('duration') or 0:6.1f}s")
    lines.append(f"  DuckDB lock errors in task logs: {len(result['lock_errors'])}")
    lines.extend(f"    {hit}" for hit in result["lock_errors"][:10])
    for worker, task_ids in sorted(result["executed_on"].items()):
        lines.append(f"  {worker} executed: {', '.join(sorted(task_ids)) or '-'}")
    db = result["db_path"]
    if db.exists():
        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        try:
            for table in ("events", "quarantine", "user_state", "actions"):
                with contextlib.suppress(duckdb.Error):
                    lines.append(f"  {table}: {con.execute(f'SELECT count(*) FROM {table}').fetchone()[0]} rows")
            with contextlib.suppress(duckdb.Error):
                states = con.execute("SELECT state, count(*) FROM user_state GROUP BY 1 ORDER BY 2 DESC").fetchall()
                lines.append("  user_state: " + ", ".join(f"{s} {n}" for s, n in states))
            with contextlib.suppress(duckdb.Error):
                acts = con.execute("SELECT kind, status, count(*) FROM actions GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
                lines.append("  actions: " + ", ".join(f"{k}/{s} {n}" for k, s, n in acts))
        finally:
            con.close()
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="check the stack with a tiny DAG only")
    parser.add_argument("--keep", action="store_true", help="leave the stack running until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the runs")
    parser.add_argument("--keep-files", action="store_true", help="keep the temp dir (logs, DuckDB) afterwards")
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM unwind through the context managers, so everything is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    reason = unreachable()
    if reason:
        print(f"make stack needs PostgreSQL and Redis on this machine: {reason}", file=sys.stderr)
        return 2
    if args.smoke:
        return smoke()
    with Stack(keep_files=args.keep_files) as stack:
        try:
            result = pipeline(stack, args.timeout)
            print(summary(result))
            ok = all(r["state"] == "success" for r in result["runs"]) and not result["lock_errors"]
            if args.keep:
                print(f"stack left up at {stack.url} (admin / {stack.password}); Ctrl-C to stop")
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        stack.check_alive()
                        time.sleep(5)
            print("stack:", "OK" if ok else "FAILED", f"(files kept in {stack.root})" if args.keep_files else "")
            return 0 if ok else 1
        finally:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
