-- Per-user state: the current truth (user_state) and one row per change (user_state_history).
-- Written by the state stage (empathy.state); on_hold mirrors the latest real hold or release action.

CREATE TABLE IF NOT EXISTS user_state (
    user_id       VARCHAR PRIMARY KEY,
    account_id    VARCHAR,
    state         VARCHAR NOT NULL CHECK (state IN ('delighted', 'exploring', 'confused', 'frustrated', 'at_risk')),
    sentiment     DOUBLE NOT NULL CHECK (sentiment BETWEEN -1 AND 1),   -- the trend (EWMA, recent evidence weighs more)
    confidence    DOUBLE NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    intents       VARCHAR[] NOT NULL,   -- security_review, billing, cancellation: what they were seen doing
    on_hold       BOOLEAN NOT NULL DEFAULT false,
    reasons       JSON NOT NULL,        -- the evidence: first {signal: 'state', detail: the rule in words}, then
                                        -- {signal, key, family, polarity, at, data} rows, deciding ones first
    scorer        VARCHAR NOT NULL,     -- lexicon | openai:<model> | lexicon (fallback)
    context_hash  VARCHAR,              -- hash of what the text scorer saw (LLM cache key)
    as_of         TIMESTAMPTZ NOT NULL, -- computed as of this instant (the run's data interval end)
    last_event_at TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL, -- when the scored snapshot of the events was taken
    run_id        VARCHAR,              -- the pipeline run that computed it
    decided_at    TIMESTAMPTZ           -- when a real (not simulated) run last made its decisions
);

CREATE TABLE IF NOT EXISTS user_state_history (
    user_id        VARCHAR NOT NULL,
    as_of          TIMESTAMPTZ NOT NULL,
    account_id     VARCHAR,
    state          VARCHAR NOT NULL,
    sentiment      DOUBLE NOT NULL,
    confidence     DOUBLE NOT NULL,
    intents        VARCHAR[] NOT NULL,
    on_hold        BOOLEAN NOT NULL DEFAULT false,
    reasons        JSON NOT NULL,
    scorer         VARCHAR NOT NULL,
    previous_state VARCHAR,             -- the state at the latest earlier as_of
    recorded_at    TIMESTAMPTZ NOT NULL,
    run_id         VARCHAR,
    context_hash   VARCHAR,
    PRIMARY KEY (user_id, as_of)        -- a rerun of the same window rewrites its row
);

-- LLM answers keyed by the hash of exactly what was sent: an unchanged context makes no new call.
CREATE TABLE IF NOT EXISTS llm_cache (
    context_hash  VARCHAR PRIMARY KEY,
    model         VARCHAR NOT NULL,
    response      JSON NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
