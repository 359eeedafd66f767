-- The current truth per user: written by the score stage (empathy.state), on_hold by the decide stage.
CREATE TABLE IF NOT EXISTS user_state (
    user_id       VARCHAR PRIMARY KEY,
    account_id    VARCHAR,
    state         VARCHAR NOT NULL CHECK (state IN ('delighted', 'exploring', 'confused', 'frustrated', 'at_risk')),
    sentiment     DOUBLE NOT NULL CHECK (sentiment BETWEEN -1 AND 1),   -- the trend (EWMA, recent evidence weighs more)
    confidence    DOUBLE NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    intents       VARCHAR[] NOT NULL,
    on_hold       BOOLEAN NOT NULL DEFAULT false,
    reasons       JSON NOT NULL,        -- the evidence, readable by a person
    scorer        VARCHAR NOT NULL,     -- lexicon | openai | lexicon (fallback: ...)
    context_hash  VARCHAR,              -- hash of what the text scorer saw (LLM cache key)
    as_of         TIMESTAMPTZ NOT NULL, -- the state is computed as of this instant (the run's data interval end)
    last_event_at TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- One row per change of a user's state (or per recomputation of a past window in a backfill).
CREATE TABLE IF NOT EXISTS user_state_history (
    user_id       VARCHAR NOT NULL,
    as_of         TIMESTAMPTZ NOT NULL,
    account_id    VARCHAR,
    state         VARCHAR NOT NULL,
    sentiment     DOUBLE NOT NULL,
    confidence    DOUBLE NOT NULL,
    intents       VARCHAR[] NOT NULL,
    on_hold       BOOLEAN NOT NULL DEFAULT false,
    reasons       JSON NOT NULL,
    scorer        VARCHAR NOT NULL,
    previous_state VARCHAR,
    recorded_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, as_of)
);

-- LLM answers keyed by the hash of exactly what was sent: unchanged context, no new call.
CREATE TABLE IF NOT EXISTS llm_cache (
    context_hash  VARCHAR PRIMARY KEY,
    model         VARCHAR NOT NULL,
    response      JSON NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
