-- Everyone this decision looks at, as they were at $as_of: the users scored in this window, everyone on
-- hold whose hold this window could change or who could be alerted about, and everyone with a drip step
-- due (but for steps `unchanged` since an earlier deferral); with their state then (the current row, or the
-- latest history row at or before $as_of), profile, account, hold, and their evidence (typed, from reasons).
-- A held user no one scored now is looked at in a real run only when they may be released (held for
-- $release_after_h hours at least), when someone on their account was scored now (the account's alert
-- ranks everyone), or when their high-value account could be alerted again (no alert within the cooldown);
-- otherwise nothing about them can change in this window. Simulations look at everyone on hold.
-- reads: _run_users, _holds, _due, _seen, user_state, user_state_history, user_profiles, accounts
-- writes: _pol_users, _pol_ev (temp)
-- takes: $as_of, $scope, $release_after_h, $alert_cooldown_h, $high_value_mrr
CREATE OR REPLACE TEMP TABLE _pol_users AS
WITH held AS (
    SELECT h.user_id, h.since, coalesce(s.account_id, p.account_id) AS account_id
    FROM _holds h LEFT JOIN user_state s USING (user_id) LEFT JOIN user_profiles p USING (user_id)
    WHERE h.on_hold
), run_accounts AS (
    SELECT DISTINCT coalesce(s.account_id, p.account_id) AS account_id
    FROM _run_users r LEFT JOIN user_state s USING (user_id) LEFT JOIN user_profiles p USING (user_id)
), alerted AS (   -- accounts inside the alert cooldown (as policy/alerts.sql counts it)
    SELECT DISTINCT account_id FROM _seen
    WHERE kind = 'slack_alert' AND status <> 'skipped' AND account_id IS NOT NULL
      AND as_of > $as_of - to_seconds(CAST($alert_cooldown_h * 3600 AS BIGINT))
      AND ($scope <> '' OR as_of < $as_of + to_seconds(CAST($alert_cooldown_h * 3600 AS BIGINT)))
), wanted AS (
    SELECT user_id FROM _run_users
    UNION SELECT h.user_id FROM held h LEFT JOIN accounts a USING (account_id)
          WHERE $scope <> ''
             OR epoch($as_of) - epoch(h.since) >= $release_after_h * 3600
             OR h.account_id IN (SELECT account_id FROM run_accounts)
             OR (a.mrr >= $high_value_mrr AND h.account_id NOT IN (SELECT account_id FROM alerted))
    UNION SELECT user_id FROM _due WHERE NOT unchanged
), states AS (
    SELECT user_id, account_id, state, confidence, intents, reasons, as_of, 0 AS src
    FROM user_state SEMI JOIN wanted USING (user_id) WHERE as_of <= $as_of
    UNION ALL
    SELECT user_id, account_id, state, confidence, intents, reasons, as_of, 1
    FROM user_state_history SEMI JOIN wanted USING (user_id) WHERE as_of <= $as_of
), latest AS (
    SELECT * FROM states QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY as_of DESC, src) = 1
), negative_seen AS (  -- the last time each held user was seen negative (or stopped being so): the release clock
    SELECT user_id, max(as_of) AS seen_at FROM (
        SELECT h.user_id, h.as_of FROM user_state_history h SEMI JOIN _holds o ON o.user_id = h.user_id AND o.on_hold
        WHERE h.as_of <= $as_of AND (h.state IN ('frustrated', 'at_risk') OR h.previous_state IN ('frustrated', 'at_risk'))
        UNION ALL
        SELECT s.user_id, s.as_of FROM user_state s SEMI JOIN _holds o ON o.user_id = s.user_id AND o.on_hold
        WHERE s.as_of <= $as_of AND s.state IN ('frustrated', 'at_risk'))
    GROUP BY user_id
), zones AS (SELECT name FROM pg_timezone_names())
SELECT w.user_id, coalesce(l.account_id, p.account_id) AS account_id, l.state, l.confidence,
       coalesce(l.intents, []) AS intents, l.reasons, l.as_of AS state_as_of,
       p.email, p.name, p.timezone, z.name IS NOT NULL AS timezone_known, coalesce(p.unsubscribed, false) AS unsubscribed,
       a.name AS account_name, a.mrr, a.account_manager_slack_id AS manager,
       coalesce(h.on_hold, false) AS on_hold, h.since AS hold_since, h.reason AS hold_reason, n.seen_at AS negative_seen_at,
       r.user_id IS NOT NULL AS scored_now
FROM wanted w
LEFT JOIN latest l USING (user_id)
LEFT JOIN user_profiles p USING (user_id)
LEFT JOIN accounts a ON a.account_id = coalesce(l.account_id, p.account_id)
LEFT JOIN _holds h USING (user_id)
LEFT JOIN negative_seen n USING (user_id)
LEFT JOIN _run_users r USING (user_id)
LEFT JOIN zones z ON z.name = p.timezone;

-- Their evidence, typed: the rows of each state's reasons (the rule first, as signal 'state').
CREATE OR REPLACE TEMP TABLE _pol_ev AS
SELECT user_id, e.signal, e.key, e.family, e.polarity, struct_extract(e, 'at') AS seen_at, e.deciding, e.data,
       c.friction_rank
FROM (SELECT user_id, unnest(from_json(reasons, '[{"signal": "VARCHAR", "key": "VARCHAR", "family": "VARCHAR",
                   "polarity": "INTEGER", "at": "TIMESTAMPTZ", "deciding": "BOOLEAN", "data": "JSON"}]')) AS e
      FROM _pol_users WHERE reasons IS NOT NULL)
LEFT JOIN signal_catalog c ON c.signal = e.signal;
