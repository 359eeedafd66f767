-- Behavioural evidence behind each user's state, one row per (user, as_of, signal, key).
-- Written by empathy.signals (prepare), read by empathy.state (apply). Holds the evidence of the
-- current user_state (rows of a backfilled as_of are pruned once their state is in the history).
CREATE TABLE IF NOT EXISTS user_evidence (
    user_id     VARCHAR NOT NULL,
    as_of       TIMESTAMPTZ NOT NULL,
    signal      VARCHAR NOT NULL,       -- rage_clicks, api_error_streak, docs_dwell, customer_text, ...
    key         VARCHAR NOT NULL,       -- which instance: element@path, streak start, ticket id, message id
    polarity    INTEGER NOT NULL,       -- -1 negative, 0 neutral (intent, text), +1 positive
    weight      DOUBLE NOT NULL,        -- strength in the sentiment trend
    first_at    TIMESTAMPTZ,
    last_at     TIMESTAMPTZ,
    count       BIGINT NOT NULL,
    detail      JSON NOT NULL,          -- what and where, readable by a person
    PRIMARY KEY (user_id, as_of, signal, key)
);

-- Which pipeline run wrote a state (traceability from a state to the Airflow run that produced it).
ALTER TABLE user_state ADD COLUMN IF NOT EXISTS run_id VARCHAR;
ALTER TABLE user_state_history ADD COLUMN IF NOT EXISTS run_id VARCHAR;
ALTER TABLE user_state_history ADD COLUMN IF NOT EXISTS context_hash VARCHAR;
