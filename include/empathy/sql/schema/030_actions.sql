-- The outbox: every decision is a row, written in the same transaction as the state change that caused it.
-- action_id is deterministic (a hash of the decision's natural key), so the same decision never gets a second row.
CREATE TABLE IF NOT EXISTS actions (
    action_id     VARCHAR PRIMARY KEY,
    user_id       VARCHAR NOT NULL,
    account_id    VARCHAR,
    kind          VARCHAR NOT NULL CHECK (kind IN ('hold', 'release', 'slack_alert', 'email')),
    status        VARCHAR NOT NULL CHECK (status IN ('pending', 'sent', 'simulated', 'failed', 'skipped')),
    reason        VARCHAR NOT NULL,
    detail        JSON NOT NULL,        -- email: category, tone, subject, ...; slack_alert: channel, text, blocks
    created_at    TIMESTAMPTZ NOT NULL,
    as_of         TIMESTAMPTZ,          -- the state's as-of time that produced the decision
    run_id        VARCHAR,
    simulate      BOOLEAN NOT NULL DEFAULT false,  -- dry run / backfill / no connection: never leaves the machine
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    VARCHAR,
    provider_id   VARCHAR,              -- Slack ts / SendGrid X-Message-Id
    preview_path  VARCHAR,              -- outbox/ file a person can open
    delivered_at  TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL
);
