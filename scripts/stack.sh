#!/usr/bin/env bash
# `make stack`: a production-shaped Airflow on this machine (PostgreSQL metadata, CeleryExecutor on
# Redis, scheduler, dag-processor, triggerer, api-server, a duckdb-queue worker and a default worker),
# empathy_pipeline run end to end twice at once, then everything stopped. See scripts/stack.py.
# Flags: --smoke (the stack alone, tiny DAG), --keep (leave it up until Ctrl-C), --keep-files.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
[[ -x "$PY" ]] || PY="$(command -v python3)"
exec "$PY" scripts/stack.py "$@"
