"""docker-compose.yaml, Dockerfile and .env.example, checked without a Docker engine.

No compose-spec JSON schema ships in any installed package, so these are structural checks
against the compose specification (top-level and service keys, volume and depends_on references,
interpolation syntax) plus the deployment's own rules: the one-writer DuckDB worker, the image
tag, the mounts, and placeholders instead of secrets. Where a `docker` CLI with the compose plugin
exists, `docker compose config` validates the file for real as well.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yaml"
EMPATHY_HOME = "/opt/empathy"

# The compose specification's keys (compose-spec/spec.md), so a typo is caught without Docker.
TOP_LEVEL = {"version", "name", "include", "services", "networks", "volumes", "configs", "secrets", "models"}
SERVICE_KEYS = {
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent",
    "command", "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota",
    "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on",
    "deploy", "develop", "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname",
    "entrypoint", "env_file", "environment", "expose", "extends", "external_links", "extra_hosts", "gpus",
    "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation", "labels", "links",
    "logging", "mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit",
    "models", "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit",
    "platform", "ports", "post_start", "pre_stop", "privileged", "profiles", "provider", "pull_policy",
    "read_only", "restart", "runtime", "scale", "secrets", "security_opt", "shm_size", "stdin_open",
    "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket",
    "user", "userns_mode", "uts", "volumes", "volumes_from", "working_dir",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART = {"no", "always", "on-failure", "unless-stopped"}
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker", "airflow-worker-duckdb", "airflow-init"}
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}
INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+])[^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of every volume of a service, short or long syntax."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out.append((v.get("source", ""), v["target"]))
        else:  # source:target[:mode], where the source may hold ${VAR:-default}
            parts = re.findall(r"(?:\$\{[^}]*\}|[^:])+", v)
            out.append((parts[0], parts[1]))
    return out


def _strings(node):
    """Every string value in the parsed file (comments are gone: compose never interpolates them)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _is_named(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "$", "~"))


def _command(service: dict) -> list[str]:
    cmd = service.get("command", [])
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def _option(cmd: list[str], *names: str) -> str | None:
    for i, arg in enumerate(cmd):
        for name in names:
            if arg == name and i + 1 < len(cmd):
                return cmd[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


# --- the compose specification's structure -------------------------------------------------------

def test_compose_has_the_spec_structure(compose):
    unknown = {k for k in compose if not k.startswith("x-")} - TOP_LEVEL
    assert not unknown, f"not compose-spec top-level keys: {unknown}"
    assert "x-airflow-common" in compose, "the official layout's shared anchor is missing"
    assert isinstance(compose["services"], dict) and compose["services"]
    assert isinstance(compose.get("volumes"), dict)
    for name, svc in compose["services"].items():
        bad = set(svc) - SERVICE_KEYS
        assert not bad, f"{name}: unknown service keys {bad}"
        assert "image" in svc or "build" in svc, f"{name} has neither image nor build"
        assert set(svc.get("healthcheck", {})) <= HEALTHCHECK_KEYS, name
        assert svc.get("restart", "no") in RESTART, name
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in compose["services"], f"{name} depends on unknown service {dep}"
            assert spec["condition"] in DEPENDS_CONDITIONS, f"{name} -> {dep}: {spec}"


def test_every_named_volume_is_declared(compose):
    declared = set(compose["volumes"])
    for name, svc in compose["services"].items():
        for source, target in _mounts(svc):
            assert target.startswith("/"), f"{name}: mount target {target!r} is not absolute"
            if _is_named(source):
                assert source in declared, f"{name} mounts undeclared volume {source!r}"


def test_interpolations_are_well_formed(compose):
    for text in _strings(compose):
        unescaped = text.replace("$$", "")  # $$ is a literal dollar for the container's shell
        for match in re.finditer(r"\$\{[^}]*\}?", unescaped):
            assert INTERPOLATION.fullmatch(match.group()), f"bad interpolation {match.group()!r}"
        assert not re.search(r"\$[A-Za-z_{]", re.sub(r"\$\{[^}]*\}", "", unescaped)), \
            f"a bare $VAR in {text[:80]!r}: write ${{VAR}} for compose or $$VAR for the container's shell"


def test_docker_compose_config_validates_when_docker_exists(tmp_path):
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode:
        pytest.skip("no docker CLI with the compose plugin here: structural checks above only")
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=x\nAIRFLOW_FERNET_KEY=x\nAIRFLOW_JWT_SECRET=x\nAIRFLOW_ADMIN_PASSWORD=x\n")
    out = subprocess.run([docker, "compose", "-f", str(COMPOSE), "--env-file", str(env), "config", "-q"],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr


# --- the official Airflow layout -----------------------------------------------------------------

def test_official_services_exist(services):
    missing = AIRFLOW_SERVICES - set(services) | ({"postgres", "redis"} - set(services))
    assert not missing, f"missing services: {missing}"
    assert _command(services["airflow-apiserver"])[0] == "api-server"
    assert _command(services["airflow-scheduler"])[0] == "scheduler"
    assert _command(services["airflow-dag-processor"])[0] == "dag-processor"
    assert _command(services["airflow-triggerer"])[0] == "triggerer"
    assert any("8080" in str(p) for p in services["airflow-apiserver"]["ports"]), "UI not on 8080"


def test_airflow_services_start_after_init_and_healthy_backends(services):
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def test_celery_executor_on_postgres_and_redis(compose):
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"


def test_image_is_built_from_the_dockerfile_not_pip_at_start(services):
    for name in AIRFLOW_SERVICES:
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in services[name].get("environment", {}), name
        assert services[name].get("build") == ".", f"{name} does not use the project's image"


def test_dockerfile_extends_the_airflow_image_pinned_in_requirements():
    docker = (ROOT / "Dockerfile").read_text()
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE).group(1)
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", docker, re.MULTILINE))
    base = re.search(r"^FROM (\S+)", docker, re.MULTILINE).group(1)
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
    image, tag = base.split(":")
    assert image == "apache/airflow"
    assert tag.split("-")[0] == pinned, f"Dockerfile builds on {tag}, requirements.txt pins {pinned}"
    assert "-r /tmp/requirements.txt" in docker, "requirements.txt is not installed into the image"
    for source in re.findall(r"^COPY (?:--\S+ )*(\S+) ", docker, re.MULTILINE):
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_dags_plugins_and_include_are_mounted(services):
    for name in AIRFLOW_SERVICES:
        targets = {target: source for source, target in _mounts(services[name])}
        for folder in ("dags", "plugins", "include"):
            source = targets.get(f"/opt/airflow/{folder}")
            assert source and source.endswith(f"/{folder}"), f"{name} does not mount ./{folder}"
            assert (ROOT / folder).is_dir(), f"./{folder} is missing from the repository"


# --- one writer ------------------------------------------------------------------------------------

def test_only_the_duckdb_worker_mounts_the_duckdb_volume(compose, services):
    env = compose["x-airflow-common"]["environment"]
    assert env["EMPATHY_HOME"] == EMPATHY_HOME
    duckdb_volumes = {s for s, t in _mounts(services["airflow-worker-duckdb"]) if t == EMPATHY_HOME}
    assert len(duckdb_volumes) == 1 and _is_named(next(iter(duckdb_volumes)))
    (volume,) = duckdb_volumes
    holders = [name for name, svc in services.items() if any(s == volume for s, _ in _mounts(svc))]
    assert holders == ["airflow-worker-duckdb"], f"{volume} is mounted by {holders}"
    for name, svc in services.items():  # nothing else has anything at EMPATHY_HOME either
        if name != "airflow-worker-duckdb":
            assert EMPATHY_HOME not in {t for _, t in _mounts(svc)}, name


def test_the_duckdb_worker_serves_only_the_duckdb_queue_one_task_at_a_time(compose, services):
    queue = compose["x-airflow-common"]["environment"]["EMPATHY_DUCKDB_QUEUE"]
    cmd = _command(services["airflow-worker-duckdb"])
    assert cmd[:2] == ["celery", "worker"]
    assert _option(cmd, "--queues", "-q") == queue
    assert _option(cmd, "--concurrency", "-c") == "1"
    assert services["airflow-worker-duckdb"].get("container_name"), "a fixed name is what forbids --scale"
    serving = [name for name, svc in services.items()
               if _command(svc)[:2] == ["celery", "worker"]
               and queue in (_option(_command(svc), "--queues", "-q") or "").split(",")]
    assert serving == ["airflow-worker-duckdb"], f"queue {queue} served by {serving}"


def test_default_workers_share_work_and_outbox_volumes_but_cannot_open_duckdb(compose, services):
    env = compose["x-airflow-common"]["environment"]
    worker = services["airflow-worker"]
    assert "container_name" not in worker, "the default worker must stay scalable"
    for folder in (env["EMPATHY_WORK_DIR"], env["EMPATHY_OUTBOX_DIR"]):  # hand-offs, and previews of sends
        shared = {s for s, t in _mounts(worker) if t == folder}
        assert shared and all(_is_named(v) for v in shared), folder
        assert shared == {s for s, t in _mounts(services["airflow-worker-duckdb"]) if t == folder}, folder
        assert not folder.startswith(EMPATHY_HOME + "/"), f"{folder} must not live inside EMPATHY_HOME"
    home = worker["environment"]["EMPATHY_HOME"]
    assert home != EMPATHY_HOME
    marker = home.rsplit("/", 1)[0]  # a regular file baked into the image: nothing can be created under it
    assert re.search(rf"> {re.escape(marker)}\s*$", (ROOT / "Dockerfile").read_text(), re.MULTILINE), marker


def test_airflow_init_creates_the_one_slot_pool(services):
    script = "\n".join(_command(services["airflow-init"]))
    assert re.search(r"airflow pools set duckdb 1\b", script)


# --- secrets ---------------------------------------------------------------------------------------

def _env_example() -> dict[str, str]:
    """KEY -> value of every assignment in .env.example, commented-out examples included."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if m:
            values[m.group(1)] = m.group(2).strip().strip("'\"")
    return values


def _is_placeholder(value: str) -> bool:
    return value == "" or bool(re.fullmatch(r"<[^<>]+>", value))


def test_every_secret_in_env_example_is_a_placeholder():
    values = _env_example()
    secrets = {k: v for k, v in values.items() if re.search(r"PASSWORD|SECRET|TOKEN|FERNET|_KEY$", k)}
    assert {"POSTGRES_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD"} <= set(secrets)
    for key, value in secrets.items():
        assert _is_placeholder(value), f"{key} in .env.example holds a value, not a placeholder"
    for conn in ("OPENAI_DEFAULT", "SLACK_API_DEFAULT", "SENDGRID_DEFAULT"):
        raw = values[f"AIRFLOW_CONN_{conn}"]
        spec = json.loads(raw)
        assert _is_placeholder(spec["password"]), f"AIRFLOW_CONN_{conn} has a real-looking password"
    assert ".env" in (ROOT / ".gitignore").read_text().split(), ".env must be git-ignored"
    assert ".env" in (ROOT / ".dockerignore").read_text().split(), ".env must stay out of the image"


def test_connections_in_env_example_parse_as_airflow_connections():
    from airflow.models.connection import Connection

    values = _env_example()
    expected = {"openai_default": "openai", "slack_api_default": "slack", "sendgrid_default": "email"}
    for conn_id, conn_type in expected.items():
        conn = Connection.from_json(values[f"AIRFLOW_CONN_{conn_id.upper()}"], conn_id=conn_id)
        assert conn.conn_type == conn_type
        assert conn.password


def test_required_compose_variables_are_documented_in_env_example():
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    assert required, "compose should refuse to start without its secrets"
    assert required <= set(_env_example()), f"not in .env.example: {required - set(_env_example())}"
