-- One row per pipeline run: what kind of run it was and what each stage reported (the run report).
CREATE TABLE IF NOT EXISTS pipeline_runs (
    run_id        VARCHAR PRIMARY KEY,
    run_type      VARCHAR,              -- scheduled, manual, backfill, asset_triggered
    mode          VARCHAR NOT NULL,     -- live | dry run | backfill
    scope         VARCHAR NOT NULL,     -- '' for live runs, else the simulation scope
    as_of         TIMESTAMPTZ,
    window_start  TIMESTAMPTZ,
    params        JSON,                 -- the run's thresholds (Params over the deployment's settings)
    stages        JSON,                 -- {stage: figures} as each stage finished
    started_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Small key/value facts about the database itself (e.g. the signal catalogue's version).
CREATE TABLE IF NOT EXISTS empathy_meta (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
);
