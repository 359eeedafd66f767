"""
### Empathy pipeline

Turns interaction logs into how each customer feels, and changes their journey accordingly.

```
prepare -(LLM)-------> batches -> score (one per batch) ------------+
        -(Batch API)-> batch_submit -> batch_wait -> batch_collect -+-> decide --+
        -(offline scorer: scored and decided in prepare)-> send_now --------------+-> deliveries
deliveries -> slack_alerts: claim -> send -> record -> report
           -> emails: claim -> rewrite -> send -> record ---/
```

* **prepare**: refuses a run whose configuration has a key that is not a Param (`dryrun`) or a value out
  of range; ingests new files in `$EMPATHY_HOME/landing/` into `events` (bad lines to `quarantine`,
  unreadable files to `ingest_errors`, each with a reason); runs the behavioural detectors (rage clicks,
  API error streaks, docs dwell, ...) for users with new activity. With the offline scorer it scores and
  decides the window right here: `user_state` and its history, and the decisions they cause (holds, Slack
  alerts, drip emails) as rows in `actions`, in one transaction; holds take effect, and previews are
  written (all of a simulation's, and a live run's for a channel with no connection). A window with
  nothing to send ends here and skips every later task at once (a
  backfill window is one task).
* **score / decide**: with the LLM scorer (`openai_default`), batches are scored in their own tasks, away
  from the database (or, with `EMPATHY_LLM_BATCH_API`, as one Batch API job that the triggerer waits for,
  holding no worker), and `decide` does the rest.
* **slack_alerts / emails**: send pending actions exactly once (`EMPATHY_DELIVERY_BATCH` per kind per
  run; previews went to `outbox/` in the step before). With `openai_default`, `emails.rewrite` rewrites bodies in the chosen tone under guardrails,
  without the database.
* **report**: what the run did, in words (also in the log of `prepare`/`decide`, and on the Empathy page,
  `/empathy/runs/<run id>`).

**Run configuration**: *Dry run* decides and previews everything and sends nothing. Backfills (DAG page
> Trigger > Backfill, `airflow backfill create`, or `POST /api/v2/backfills`) recompute their windows and
simulate every action unless *Deliver during a backfill* is on; the windows of one backfill (and
consecutive dry runs) carry cooldowns, caps and holds across them as real runs would, whatever order the
windows run in. Thresholds left empty use the deployment's settings (environment variables, see the README).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, TaskGroup, XComArg, dag, task

from empathy.config import run_params
from empathy.connections import OpenAIBatchWaitOperator, landing_or_cron_schedule, notify_failure
from empathy.runs import (
    BATCH_MAX_WAIT_S,
    BATCH_POLL_S,
    DUCKDB_TASK,
    OPENAI_CONN_ID,
    PIPELINE_CRON,
    RUN_DEFAULTS,
    RUN_OPTIONS,
)

CHANNELS = {"slack_alerts": ["slack_alert"], "emails": ["email", "hold", "release"]}


def _params() -> dict:
    """The trigger form: run options first, then thresholds by section (empty = the deployment's setting)."""
    form = {name: Param(RUN_DEFAULTS[name], **schema) for name, schema in RUN_OPTIONS.items()}
    form.update({name: Param(None, **schema) for name, schema in run_params().items()})
    return form


def _end_run_here(context) -> None:
    """Skip every task after this one at once, as a short-circuit does (a branch returning nothing skips
    only its direct downstream, and the scheduler then skips the rest a level per loop: ~0.5 s a window)."""
    task = context["task"]
    task.skip(context["ti"], [t for t in task.get_flat_relatives(upstream=False) if not t.is_teardown])


@dag(
    dag_id="empathy_pipeline",
    schedule=landing_or_cron_schedule(PIPELINE_CRON),  # hourly data intervals, or when files land
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    tags=["empathy"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=20), "on_failure_callback": notify_failure},
    params=_params(),
)
def empathy_pipeline():
    @task.branch(**DUCKDB_TASK)
    def prepare(**context) -> list[str]:
        from airflow.sdk.exceptions import AirflowFailException

        from empathy import pipeline
        from empathy.runs import RunConfError, check_conf, run_info, run_settings

        try:
            check_conf(context["dag_run"].conf)   # refuse before anything is read or decided
        except RunConfError as exc:
            raise AirflowFailException(f"run refused: {exc}") from None  # a mistake, not a fault: no retry
        run = run_info(context)
        print(f"{run.mode} run {run.run_id} as of {run.as_of.isoformat()}"
              + (f" (simulation scope {run.scope!r})" if run.scope else ""))
        settings = run_settings(context)
        result = pipeline.prepare(settings, run)
        context["ti"].xcom_push(key="run", value=run.as_dict())
        context["ti"].xcom_push(key="batches", value=result["batches"])
        if not result["decided"]:
            return ["batch_submit"] if settings.llm_batch_api else ["batches"]
        print(result["report"])
        if any(result["pending"].values()):
            return ["send_now"]
        pipeline.finish(settings, run.run_id)   # nothing to send: this is the run's last task
        _end_run_here(context)
        return []

    @task
    def batches(**context) -> list[str]:
        """The scoring batches prepare wrote (the LLM's path: one score task each)."""
        return context["ti"].xcom_pull(task_ids="prepare", key="batches") or []

    @task(retries=3)
    def score(batch_path: str, **context) -> str:
        from empathy import pipeline
        from empathy.runs import run_settings

        return pipeline.score_batch(run_settings(context), batch_path)

    @task
    def batch_submit(**context) -> str | None:
        from empathy import pipeline
        from empathy.runs import run_settings

        return pipeline.batch_submit(run_settings(context), context["ti"].xcom_pull(task_ids="prepare", key="batches"))

    @task(retries=3)
    def batch_collect(waited: dict, **context) -> list[str]:
        from empathy import pipeline
        from empathy.runs import run_settings

        print(f"batch job {waited.get('batch_id')}: {waited.get('status')} {waited.get('reason') or ''}")
        return pipeline.batch_collect(run_settings(context), context["ti"].xcom_pull(task_ids="prepare", key="batches"),
                                      waited.get("batch_id"))

    @task(**DUCKDB_TASK, trigger_rule="none_failed_min_one_success")
    def decide(run: dict, **context) -> dict:
        from empathy import pipeline
        from empathy.runs import RunInfo, run_settings

        result = pipeline.decide(run_settings(context), RunInfo.from_dict(run))
        print(result["report"])
        return result["pending"]

    @task(**DUCKDB_TASK, trigger_rule="none_failed_min_one_success")
    def report(run: dict, **context) -> str:
        from empathy import pipeline
        from empathy.runs import RunInfo, run_settings

        settings = run_settings(context)
        text = pipeline.report(settings, RunInfo.from_dict(run))
        print(text)
        pipeline.finish(settings, run["run_id"])  # every upstream task succeeded or was skipped
        return text

    prepared = prepare()
    run = XComArg(prepared.operator, key="run")
    listed = batches()
    submitted = batch_submit()
    waited = OpenAIBatchWaitOperator(task_id="batch_wait", batch_id=submitted, conn_id=OPENAI_CONN_ID,
                                     poll_interval=BATCH_POLL_S, timeout=BATCH_MAX_WAIT_S)
    decided = decide(run)
    [score.expand(batch_path=listed), batch_collect(waited.output)] >> decided
    send_now = EmptyOperator(task_id="send_now")
    deliveries = EmptyOperator(task_id="deliveries", trigger_rule="none_failed_min_one_success")
    prepared >> [listed, submitted, send_now]
    [decided, send_now] >> deliveries
    done = report(run)

    for group_id, kinds in CHANNELS.items():
        with TaskGroup(group_id=group_id):
            @task(task_id="claim", **DUCKDB_TASK)
            def claim(run: dict, kinds=kinds, **context) -> str:
                from empathy import pipeline
                from empathy.runs import RunInfo, run_settings

                return pipeline.claim(run_settings(context), RunInfo.from_dict(run), kinds)

            @task(task_id="rewrite", retries=3)
            def rewrite(claimed_path: str, **context) -> str:
                from empathy import pipeline
                from empathy.runs import run_settings

                return pipeline.rewrite(run_settings(context), claimed_path)

            @task(task_id="send", retries=3)
            def send(run: dict, claimed_path: str, **context) -> str:
                from empathy import pipeline
                from empathy.runs import RunInfo, run_settings

                return pipeline.send(run_settings(context), claimed_path, RunInfo.from_dict(run))

            @task(task_id="record", **DUCKDB_TASK)
            def record(run: dict, outcomes_path: str, **context) -> dict:
                from empathy import pipeline
                from empathy.runs import RunInfo, run_settings

                return pipeline.record(run_settings(context), RunInfo.from_dict(run), outcomes_path)

            claimed = claim(run)
            deliveries >> claimed
            ready = rewrite(claimed) if "email" in kinds else claimed
            record(run, send(run, ready)) >> done

empathy_pipeline()
