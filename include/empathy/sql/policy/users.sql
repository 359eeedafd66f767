-- Everyone the decide stage looks at, with the state they had at $as_of, their profile, account and hold.
-- Users: $all_users (everyone with a state) or the listed $user_ids, plus everyone currently on hold.
-- The state is the current row, or in a backfill of the past the latest history row at or before $as_of.
WITH wanted AS (
    SELECT user_id FROM user_state WHERE $all_users
    UNION
    SELECT unnest($user_ids::VARCHAR[]) AS user_id
    UNION
    SELECT user_id FROM policy_holds WHERE on_hold
), states AS (
    SELECT user_id, account_id, state, sentiment, confidence, intents, reasons::VARCHAR AS reasons, as_of, 0 AS src
    FROM user_state WHERE as_of <= $as_of AND user_id IN (SELECT user_id FROM wanted)
    UNION ALL
    SELECT user_id, account_id, state, sentiment, confidence, intents, reasons::VARCHAR, as_of, 1
    FROM user_state_history WHERE as_of <= $as_of AND user_id IN (SELECT user_id FROM wanted)
), latest AS (
    SELECT * FROM states
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY as_of DESC, src) = 1
), profiles AS (
    SELECT * FROM user_profiles WHERE user_id IN (SELECT user_id FROM wanted)
)
SELECT w.user_id,
       coalesce(l.account_id, p.account_id) AS account_id,
       l.state, l.sentiment, l.confidence, l.intents, l.reasons, l.as_of AS state_as_of,
       p.email, p.name, p.timezone, coalesce(p.unsubscribed, false) AS unsubscribed,
       a.name AS account_name, a.mrr, a.account_manager_slack_id,
       coalesce(h.on_hold, false) AS on_hold, h.since AS hold_since, h.last_negative_at
FROM wanted w
LEFT JOIN latest l USING (user_id)
LEFT JOIN profiles p USING (user_id)
LEFT JOIN accounts a ON a.account_id = coalesce(l.account_id, p.account_id)
LEFT JOIN policy_holds h USING (user_id)
ORDER BY w.user_id
