"""Scoring through the Batch API: submit, a deferred wait (the provider's trigger), collect; through the real
SDK and the stand-in. What a user notices: everyone gets a judgement, a job that does not finish in time
costs nobody their judgement (the lexicon steps in, with the reason), and no worker sleeps while it waits.
"""
from __future__ import annotations

import asyncio
import json

import pytest
from llm_cases import MODEL, PII, TRAITS, assert_no_pii, ctx

from empathy.llm import batch
from empathy.llm.scoring import OpenAIScorer
from empathy.redact import names_from_traits


@pytest.fixture
def llm_settings(settings, openai_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_DEFAULT", openai_server.connection(model=MODEL))
    return settings.replace(scorer="openai", llm_timeout_s=5.0, llm_max_retries=1, llm_batch_poll_s=0.01,
                            llm_batch_max_wait_s=60.0)


def wait(batch_id, settings, timeout=None):
    """What the DAG's wait task does: defer to the provider's trigger, run it (as the triggerer would) and
    resume with its event. Returns (the trigger it deferred to, the task's result)."""
    from airflow.sdk.exceptions import TaskDeferred

    from empathy.connections import OpenAIBatchWaitOperator

    op = OpenAIBatchWaitOperator(task_id="wait_for_batch", batch_id=batch_id, conn_id=settings.openai_conn_id,
                                 poll_interval=settings.llm_batch_poll_s,
                                 timeout=settings.llm_batch_max_wait_s if timeout is None else timeout)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = deferred.value.trigger

    async def first_event():
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    return trigger, getattr(op, deferred.value.method_name)({}, event=event)


def test_submit_wait_collect(llm_settings, openai_server):
    openai_server.batch_polls_until_done = 3
    users = [ctx("u1", "still broken"), ctx("u2", "thanks, works now"), ctx("u3", "thanks, works now")]
    batch_id = batch.submit(llm_settings, users)
    trigger, result = wait(batch_id, llm_settings)
    assert type(trigger).__module__ == "airflow.providers.openai.triggers.openai"  # the provider's, in the triggerer
    assert result == {"batch_id": batch_id, "status": "success", "reason": "completed"}
    judged = batch.collect(llm_settings, users, batch_id)
    assert [j.user_id for j in judged] == ["u1", "u2", "u3"]
    assert all(j.fallback is None and j.scorer == f"openai:{MODEL}" for j in judged)
    assert judged[0].sentiment < 0 < judged[1].sentiment and judged[1].context_hash == judged[2].context_hash
    assert not openai_server.chat_bodies()  # nothing went through chat completions
    lines = openai_server.batch_bodies()
    assert len(lines) == 2  # identical contexts share one line
    assert all(b["response_format"]["json_schema"]["strict"] for b in lines)


def test_a_job_that_does_not_finish_in_time_is_cancelled_and_everyone_still_gets_a_judgement(llm_settings, openai_server):
    openai_server.batch_polls_until_done = None        # never finishes by itself
    openai_server.batch_lines_done_on_cancel = 1       # one line was done when it was cancelled
    users = [ctx("u1", "still broken"), ctx("u2", "thanks, works now")]
    batch_id = batch.submit(llm_settings, users)
    _, result = wait(batch_id, llm_settings, timeout=0.2)
    assert result["status"] == "error" and result["reason"] == "timeout"
    assert any(r.path.endswith(f"/batches/{batch_id}/cancel") for r in openai_server.requests)
    judged = batch.collect(llm_settings, users, batch_id)
    assert [j.user_id for j in judged] == ["u1", "u2"]
    assert judged[0].fallback is None                      # its line finished before the cancel
    assert judged[1].scorer == "lexicon (fallback)"
    assert judged[1].fallback.startswith("openai: batch job not finished in time (cancelled")


@pytest.mark.parametrize("status", ["failed", "expired"])
def test_a_failed_or_expired_job_falls_back_per_user_with_the_reason(llm_settings, openai_server, status):
    openai_server.batch_final_status = status
    users = [ctx("u1", "still broken"), ctx("u2", "hello")]
    batch_id = batch.submit(llm_settings, users)
    _, result = wait(batch_id, llm_settings)
    assert result["status"] == "error"
    judged = batch.collect(llm_settings, users, batch_id)
    assert [j.fallback for j in judged] == [f"openai: batch job {status}"] * 2


def test_failed_lines_and_unusable_answers_fall_back_one_by_one(llm_settings, openai_server):
    from standins.base import Reply

    answers = iter([Reply(500, {"error": {"type": "server_error", "message": "boom"}}), "not json", None])

    def responder(body):
        answer = next(answers)
        return answer if answer is not None else {"text_sentiments": [0.5], "sentiment": 0.5, "intents": [],
                                                  "friction": "", "confidence": 0.9}

    openai_server.responder = responder
    users = [ctx("u1", "first"), ctx("u2", "second"), ctx("u3", "third")]
    batch_id = batch.submit(llm_settings, users)
    wait(batch_id, llm_settings)
    judged = batch.collect(llm_settings, users, batch_id)
    assert judged[0].fallback == "openai: batch line failed (HTTP 500, server_error)"
    assert judged[1].fallback == "openai: garbage answer (not JSON)"
    assert judged[2].fallback is None and judged[2].sentiment == 0.5


def test_cached_users_are_not_submitted(llm_settings, openai_server):
    users = [ctx("u1", "still broken"), ctx("u2", "thanks, works now")]
    [first, _] = OpenAIScorer(llm_settings).score_users(users)
    cached = {first.context_hash: first.model_dump(exclude={"user_id", "context_hash"})}
    batch_id = batch.submit(llm_settings, users, cached)
    assert len(openai_server.batch_bodies()) == 1
    wait(batch_id, llm_settings)
    judged = batch.collect(llm_settings, users, batch_id, cached)
    assert all(j.fallback is None for j in judged)
    assert batch.submit(llm_settings, users[:1], cached) is None  # nothing to ask
    assert wait_none(llm_settings) == {"batch_id": None, "status": "success", "reason": "nothing to ask"}
    assert batch.collect(llm_settings, users[:1], None, cached)[0].fallback is None


def wait_none(settings):
    from empathy.connections import OpenAIBatchWaitOperator

    return OpenAIBatchWaitOperator(task_id="w", batch_id=None, conn_id=settings.openai_conn_id).execute({})


def test_an_unreadable_job_falls_back_for_everyone(llm_settings, openai_server):
    users = [ctx("u1", "still broken")]
    [j] = batch.collect(llm_settings, users, "batch_that_does_not_exist")
    assert j.scorer == "lexicon (fallback)" and "HTTP 404" in j.fallback


def test_no_pii_in_the_uploaded_batch(llm_settings, openai_server):
    names = names_from_traits(TRAITS)
    users = [ctx(f"u{i}", f"Jane Okonkwo here, my {kind} is {value}", names=names)
             for i, (kind, value) in enumerate(PII.items())]
    batch.submit(llm_settings, users)
    uploads = [r for r in openai_server.requests if r.path.endswith("/files")]
    assert len(uploads) == 1 and len(openai_server.batch_bodies()) == len(PII)
    assert_no_pii([json.dumps(body) for body in openai_server.batch_bodies()])
    assert "Okonkwo" not in uploads[0].text


WAIT_DAG = """
from datetime import datetime, timezone
from airflow.sdk import DAG
from empathy.connections import OpenAIBatchWaitOperator

with DAG("empathy_llm_batch_wait_test", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=timezone.utc)):
    OpenAIBatchWaitOperator(task_id="wait_for_batch", batch_id="{batch_id}", poll_interval=0.01, timeout=120)
"""


@pytest.mark.slow
def test_the_wait_defers_and_resumes_in_a_real_dag_run(airflow_db, llm_settings, openai_server, tmp_path, monkeypatch):
    """dag.test() runs the deferred wait as Airflow does (the trigger, then the task resumes): it succeeds."""
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    openai_server.batch_polls_until_done = 2
    users = [ctx("u1", "still broken")]
    batch_id = batch.submit(llm_settings, users)
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "wait_dag.py").write_text(WAIT_DAG.format(batch_id=batch_id))
    bundles = json.loads(conf.get("dag_processor", "dag_bundle_config_list"))  # keep the project's bundle
    bundles.append({"name": "empathy-llm-test", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {"path": str(folder), "refresh_interval": 0}})
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    dag = DagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="empathy-llm-test").get_dag(
        "empathy_llm_batch_wait_test")
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"wait_for_batch": "success"}
    assert len(openai_server.served(f"/batches/{batch_id}")) >= 3  # the provider's trigger polled until it finished
    assert batch.collect(llm_settings, users, batch_id)[0].fallback is None
