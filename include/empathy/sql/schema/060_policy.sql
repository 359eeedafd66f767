-- Policy (empathy.policy): hold episodes, deferred drip steps, and the simulation scope of an action.

-- Simulated decisions (dry runs, backfills) are keyed by this scope (the run id, or a backfill's id),
-- so all windows of one backfill share one simulated outcome and a later real run still decides for real.
ALTER TABLE actions ADD COLUMN IF NOT EXISTS sim_key VARCHAR;

-- One row per user ever held: the current hold, when its episode started and when negative evidence was
-- last seen (the release clock). user_state.on_hold mirrors `on_hold` after every decide.
CREATE TABLE IF NOT EXISTS policy_holds (
    user_id          VARCHAR PRIMARY KEY,
    on_hold          BOOLEAN NOT NULL,
    since            TIMESTAMPTZ NOT NULL,  -- start of the current (or last) hold episode
    reason           VARCHAR NOT NULL,
    last_negative_at TIMESTAMPTZ NOT NULL,  -- latest negative state or evidence seen
    released_at      TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- Due drip steps that were not sent yet and why (held, quiet hours, frequency cap, no email address).
-- A step leaves this table when it gets its action row; it is skipped once drip_max_late_h is exceeded.
CREATE TABLE IF NOT EXISTS drip_deferrals (
    user_id            VARCHAR NOT NULL,
    campaign           VARCHAR NOT NULL,
    step               VARCHAR NOT NULL,
    due_at             TIMESTAMPTZ NOT NULL,
    reason             VARCHAR NOT NULL,
    first_deferred_at  TIMESTAMPTZ NOT NULL,
    last_deferred_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, campaign, step)
);
