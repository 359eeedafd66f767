"""
### Empathy landing watch

Near-real-time path: every minute, a sensor looks for files in `$EMPATHY_HOME/landing/` that have not
been ingested yet and, when it finds some, triggers `empathy_pipeline` at once. The sensor runs in
`reschedule` mode, so it holds no worker slot between pokes.

It reads the landing folder and a small manifest the ingest stage writes (not the DuckDB file), so it
never competes for the database lock. The triggered run's id is derived from the set of new files,
so the same files never start two runs; and since ingest skips files already ingested, a file seen by
both this path and the hourly schedule is processed once.

Why not an AssetWatcher: Airflow 3.3's file trigger for watchers deletes the file it fires on, and
landed files are immutable evidence we keep.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, PokeReturnValue, dag, task

from empathy.runs import DUCKDB_QUEUE


@dag(
    dag_id="empathy_landing_watch",
    schedule=CronTriggerTimetable("* * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["empathy"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=10)},
)
def empathy_landing_watch():
    # On Celery, the landing folder lives on the DuckDB worker's volume: watch it from there.
    @task.sensor(poke_interval=10, timeout=50, mode="reschedule", soft_fail=True, queue=DUCKDB_QUEUE)
    def new_landing_files() -> PokeReturnValue:
        import hashlib

        from empathy import config
        from empathy.ingest import pending_files

        pending = pending_files(config.load())
        fingerprint = hashlib.sha256("\n".join(pending).encode()).hexdigest()[:16]
        return PokeReturnValue(is_done=bool(pending), xcom_value={"files": pending, "fingerprint": fingerprint})

    @task
    def trigger_pipeline(found: dict) -> str:
        """What TriggerDagRunOperator does (the Task SDK's trigger signal), without importing the
        operator's database layer at parse time: this file must parse in milliseconds."""
        from airflow.sdk import timezone
        from airflow.sdk.exceptions import DagRunTriggerException

        run_id = f"landing__{found['fingerprint']}"
        print(f"{len(found['files'])} new landed file(s): {found['files'][:10]} -> empathy_pipeline run {run_id}")
        raise DagRunTriggerException(
            trigger_dag_id="empathy_pipeline", dag_run_id=run_id, conf={"source": "landing"},
            logical_date=timezone.utcnow(), reset_dag_run=False, skip_when_already_exists=True,
            wait_for_completion=False, allowed_states=["success"], failed_states=["failed"],
            poke_interval=30, deferrable=False,
        )

    trigger_pipeline(new_landing_files())


empathy_landing_watch()
