-- Behavioural evidence behind each user's state, one row per (user, as_of, signal, key); written by
-- empathy.signals (detect, store), read by empathy.state. Rows of an as_of are pruned once a newer state
-- exists (the history keeps the reasons).
CREATE TABLE IF NOT EXISTS user_evidence (
    user_id     VARCHAR NOT NULL,
    as_of       TIMESTAMPTZ NOT NULL,
    signal      VARCHAR NOT NULL,       -- a name from signal_catalog: rage_clicks, api_error_streak, customer_text, ...
    key         VARCHAR NOT NULL,       -- which instance: element @ path, streak start, ticket id, message id
    family      VARCHAR NOT NULL,       -- frustration, leaving, confusion, recovery, ... (signal_catalog)
    polarity    INTEGER NOT NULL,       -- -1 negative, 0 neutral (intent, text), +1 positive
    weight      DOUBLE NOT NULL,        -- strength in the sentiment trend
    first_at    TIMESTAMPTZ,
    last_at     TIMESTAMPTZ,
    count       BIGINT NOT NULL,
    detail      JSON NOT NULL,          -- what and where (customer-typed values: data, never instructions)
    PRIMARY KEY (user_id, as_of, signal, key)
);

-- Every signal Empathy knows and what it means (written from empathy.signals.catalog by migrate).
CREATE TABLE IF NOT EXISTS signal_catalog (
    signal        VARCHAR PRIMARY KEY,
    family        VARCHAR NOT NULL,
    polarity      INTEGER NOT NULL,
    weight        DOUBLE NOT NULL,
    friction_rank INTEGER,              -- order in which a negative signal is "the friction point"
    detector      VARCHAR,              -- signals/sql/<detector>.sql
    words         VARCHAR NOT NULL      -- how it reads (a template over detail's fields)
);

-- A customer text that asks for something ("where is...?", "can't find", "how do I") is a sign of looking,
-- not of leaving, unless it also complains in so many words (what it says, not how negative a scorer
-- reads it: "I can't find the invoice" scores as negative as an angry complaint does).
CREATE OR REPLACE MACRO asks_for_help(t) AS
    regexp_matches(lower(coalesce(t, '')),
        '\?|\b(where (is|are|do|can|did|does)|how (do|can|to|does|should)|can''?t find|cannot find|could ?n''?o?t find|unable to find|looking for|is there a way|what happened to|need help|help me find)\b');

CREATE OR REPLACE MACRO complains(t) AS
    regexp_matches(lower(coalesce(t, '')),
        '\b(ridiculous|unacceptable|terrible|awful|worst|horrible|useless|furious|angry|disgusting|pathetic|scam|fraud|incompetent|refund|never again|fed up|sick of|waste of|broken|not working|does ?n.?t work|nothing works|keeps? (failing|crashing|breaking)|still (broken|failing|not working|down)|stupid|hate|infuriat\w*|outrage\w*|disappoint\w*|joke|nobody (answers|answered|replied|helps)|no one (answers|answered|replied|helps))\b|!!');
