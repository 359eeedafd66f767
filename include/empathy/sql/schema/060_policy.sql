-- Policy (empathy.policy): the windows each scope decided, and why things were not (yet) sent.

-- One row per decided window of a scope ('' = real runs; else a simulation scope): the users whose states
-- were decided there. A simulated window decided out of order rewinds the later windows of its scope and
-- decides them again from these rows, so a simulation never depends on the order its windows ran in.
CREATE TABLE IF NOT EXISTS decision_points (
    scope       VARCHAR NOT NULL,
    as_of       TIMESTAMPTZ NOT NULL,
    run_id      VARCHAR,
    users       VARCHAR[] NOT NULL,
    params      JSON,                   -- the run's setting overrides: a rewound window is decided again with them
    decided_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, as_of)
);

-- What a run considered and did not do, in words: deferred drip steps (on hold, quiet hours, cap),
-- alerts not sent (cooldown, low value), holds kept. The run report and the Empathy page read it.
CREATE TABLE IF NOT EXISTS decision_log (
    run_id      VARCHAR,
    scope       VARCHAR NOT NULL,
    as_of       TIMESTAMPTZ NOT NULL,
    user_id     VARCHAR,
    account_id  VARCHAR,
    kind        VARCHAR NOT NULL,       -- hold, release, slack_alert, email
    outcome     VARCHAR NOT NULL,       -- deferred | not sent | kept
    reason      VARCHAR NOT NULL,       -- in words: "on hold: frustrated since Tue 14:05 UTC"
    detail      JSON,
    logged_at   TIMESTAMPTZ NOT NULL
);

-- Hold episodes as the real actions tell them: the latest hold or release per user (BI-friendly).
CREATE OR REPLACE VIEW policy_holds AS
SELECT user_id, kind = 'hold' AS on_hold,
       CASE WHEN kind = 'hold' THEN as_of END AS since, reason,
       CASE WHEN kind = 'release' THEN as_of END AS released_at
FROM actions
WHERE kind IN ('hold', 'release') AND NOT simulate AND status <> 'skipped'
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY as_of DESC, kind = 'release' DESC) = 1;

-- Drip steps that are waiting, and why (the latest real decision log entry of each step not yet decided).
CREATE OR REPLACE VIEW drip_deferrals AS
SELECT user_id, detail->>'campaign' AS campaign, detail->>'step' AS step,
       TRY_CAST(detail->>'due_at' AS TIMESTAMPTZ) AS due_at, reason, as_of AS last_deferred_at
FROM decision_log l
WHERE kind = 'email' AND outcome = 'deferred' AND scope = ''
  AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.kind = 'email' AND NOT a.simulate AND a.user_id = l.user_id
                  AND a.detail->>'campaign' = l.detail->>'campaign' AND a.detail->>'step' = l.detail->>'step')
QUALIFY row_number() OVER (PARTITION BY user_id, detail->>'campaign', detail->>'step' ORDER BY as_of DESC) = 1;

-- The holdout: a deterministic share of users (the same user and salt are always in or out) who get the
-- standard drip with no empathy adjustments, so the adjustments can be measured.
-- Quiet hours: whether a local hour (0-23) is inside `start-end` (wrapping midnight when start > end);
-- never when quiet hours are off (start NULL). The drip rules and the re-check of deferred steps share it.
CREATE OR REPLACE MACRO in_quiet_hours(local_hour, quiet_start, quiet_end) AS
    quiet_start IS NOT NULL AND CASE WHEN quiet_start <= quiet_end THEN local_hour >= quiet_start AND local_hour < quiet_end
                                     ELSE local_hour >= quiet_start OR local_hour < quiet_end END;

CREATE OR REPLACE MACRO in_holdout(user_id, salt, pct) AS
    ('0x' || left(sha256(salt || '|' || user_id), 15))::BIGINT / 1152921504606846976.0 * 100 < pct;
