"""
### Empathy pipeline

Turns interaction logs into how each customer feels, and changes their journey accordingly.

```
landing/*.jsonl -> ingest -> prepare_scoring -> score_batch (mapped) -> apply_and_decide -> choose_deliveries
                                                                                            |-> slack_alerts (claim, send, record)
                                                                                            |-> emails (claim, send, record)
                                                                                            |-> holds
                                                                                            `-> nothing_to_deliver
                                                                                         -> summary
```

* **ingest**: new files in `$EMPATHY_HOME/landing/` into `events` (bad lines to `quarantine`, with a reason).
* **prepare_scoring / score_batch**: behavioural detectors (rage clicks, API error streaks, docs dwell, ...)
  and text sentiment (offline lexicon, or the LLM through `openai_default`) for users with new activity.
* **apply_and_decide**: `user_state` and its history, and the decisions it causes (holds, Slack alerts,
  drip emails) as rows in `actions`, in one transaction.
* **deliveries**: send pending actions exactly once; without a connection, previews go to `outbox/`.

**Params**: `dry_run` records and previews every decision and sends nothing. Backfills (DAG page >
Trigger > Backfill, `airflow backfill create`, or the REST API) recompute states for their data
intervals and simulate every action unless `deliver` is true. Thresholds left empty use the deployment's
settings (environment variables, see the README).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, TaskGroup, dag, task

from empathy.connections import landing_or_cron_schedule, notify_failure
from empathy.runs import (
    DUCKDB_TASK,
    PIPELINE_CRON,
    THRESHOLD_PARAMS,
    is_simulated,
    run_settings,
    run_window,
)

CHANNELS = {"slack_alerts": ["slack_alert"], "emails": ["email"]}


@dag(
    dag_id="empathy_pipeline",
    schedule=landing_or_cron_schedule(PIPELINE_CRON),  # hourly data intervals, or when files land
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    tags=["empathy"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=20), "on_failure_callback": notify_failure},
    params={
        "dry_run": Param(False, type="boolean", description="Record and preview every decision; send nothing."),
        "deliver": Param(False, type="boolean",
                         description="Backfills simulate every action unless this is true."),
        "scorer": Param("default", enum=["default", "lexicon", "openai"],
                        description="Text scorer for this run; `default` = EMPATHY_SCORER."),
        **{name: Param(None, type=["null", kind], description=doc) for name, (kind, doc) in THRESHOLD_PARAMS.items()},
    },
)
def empathy_pipeline():
    @task(**DUCKDB_TASK)
    def ingest(**context) -> dict:
        from empathy import pipeline

        report = pipeline.ingest(run_settings(context), run_id=context["run_id"])
        print(f"ingest: {report['totals']}")
        return report["totals"]

    @task(**DUCKDB_TASK)
    def prepare_scoring(**context) -> list[str]:
        from empathy import pipeline

        as_of, since = run_window(context)
        batches = pipeline.prepare_scoring(run_settings(context), as_of, since, context["run_id"])
        print(f"{len(batches)} scoring batches as of {as_of.isoformat()} (window start {since})")
        return batches

    @task(retries=3)
    def score_batch(batch_path: str, **context) -> str:
        from empathy import pipeline

        return pipeline.score_batch(run_settings(context), batch_path)

    @task(**DUCKDB_TASK, trigger_rule="none_failed")
    def apply_and_decide(judgement_paths, **context) -> dict:
        from empathy import pipeline

        as_of, _ = run_window(context)
        result = pipeline.apply_and_decide(run_settings(context), as_of, list(judgement_paths or []),
                                           context["run_id"], simulate=is_simulated(context))
        print(f"decided: {result}")
        return result

    @task.branch
    def choose_deliveries(decided: dict) -> list[str]:
        pending = decided.get("pending", {})
        chosen = [f"{group}.claim" for group, kinds in CHANNELS.items() if any(pending.get(k) for k in kinds)]
        if pending.get("hold") or pending.get("release"):
            chosen.append("holds")
        return chosen or ["nothing_to_deliver"]

    @task(**DUCKDB_TASK)
    def holds(**context) -> dict:
        from empathy import pipeline

        return pipeline.deliver_in_process(run_settings(context), ["hold", "release"], context["run_id"],
                                           force_simulate=is_simulated(context))

    @task
    def nothing_to_deliver() -> str:
        return "no pending actions"

    @task(**DUCKDB_TASK, trigger_rule="none_failed_min_one_success")
    def summary(**context) -> dict:
        from empathy import pipeline

        settings = run_settings(context)
        result = pipeline.summary(settings, run_id=context["run_id"], write_snapshot=True)
        print(pipeline.format_summary(result))
        pipeline.clean_run(settings, context["run_id"])  # every upstream task succeeded or was skipped
        return {"events": result["events"], "actions": [list(r) for r in result["actions"]]}

    batches = prepare_scoring()
    ingest() >> batches
    decided = apply_and_decide(score_batch.expand(batch_path=batches))
    branch = choose_deliveries(decided)
    finals = [holds(), nothing_to_deliver()]

    for group_id, kinds in CHANNELS.items():
        with TaskGroup(group_id=group_id):
            @task(task_id="claim", **DUCKDB_TASK)
            def claim(kinds=kinds, **context) -> str:
                from empathy import pipeline

                return pipeline.claim_deliveries(run_settings(context), kinds, context["run_id"],
                                                 force_simulate=is_simulated(context))

            @task(task_id="send", retries=3)
            def send(claimed_path: str, **context) -> str:
                from empathy import pipeline

                return pipeline.send_deliveries(run_settings(context), claimed_path,
                                                force_simulate=is_simulated(context))

            @task(task_id="record", **DUCKDB_TASK)
            def record(outcomes_path: str, **context) -> dict:
                from empathy import pipeline

                return pipeline.record_deliveries(run_settings(context), outcomes_path)

            claimed = claim()
            branch >> claimed
            finals.append(record(send(claimed)))

    branch >> finals[:2]
    finals >> summary()


empathy_pipeline()
