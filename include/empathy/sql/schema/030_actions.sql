-- The outbox: every decision is a row, written in the same transaction as the state that caused it.
-- action_id is deterministic (a hash of the decision's natural key and its scope), so the same decision
-- never gets a second row. The actions are also the policy's memory: hold state, cooldowns, caps and
-- drip progress are read from them (empathy.policy), for real runs and for each simulation scope.
CREATE TABLE IF NOT EXISTS actions (
    action_id     VARCHAR PRIMARY KEY,
    user_id       VARCHAR NOT NULL,
    account_id    VARCHAR,
    kind          VARCHAR NOT NULL CHECK (kind IN ('hold', 'release', 'slack_alert', 'email')),
    status        VARCHAR NOT NULL CHECK (status IN ('pending', 'sent', 'simulated', 'failed', 'skipped')),
    reason        VARCHAR NOT NULL,     -- why, in words
    detail        JSON NOT NULL,        -- email: category, tone, subject, ...; slack_alert: channel, text, blocks
    created_at    TIMESTAMPTZ NOT NULL,
    as_of         TIMESTAMPTZ NOT NULL, -- the window (state as-of time) that produced the decision
    run_id        VARCHAR,
    simulate      BOOLEAN NOT NULL DEFAULT false,  -- never leaves the machine
    scope         VARCHAR NOT NULL DEFAULT '',     -- '' = real; else the simulation it belongs to ('dry-run', 'backfill', a scenario)
    simulation    VARCHAR,              -- why it was simulated: 'dry run', 'backfill', 'no connection'
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    VARCHAR,
    provider_id   VARCHAR,              -- Slack ts / SendGrid X-Message-Id
    preview_path  VARCHAR,              -- outbox/ file a person can open
    delivered_at  TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- An action's id: the hash of its natural key ("hold|<user>|<as_of>", "email|<user>|<campaign>|<step>", ...),
-- and for a simulation its scope too, so a simulated decision never takes a real one's id.
CREATE OR REPLACE MACRO action_key(natural_key, scope) AS
    left(sha256(natural_key || CASE WHEN scope <> '' THEN '|sim|' || scope ELSE '' END), 32);
