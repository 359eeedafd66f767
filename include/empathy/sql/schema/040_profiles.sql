-- The events every later stage reads: rows with a timestamp no clock could have written (infinite, BC,
-- centuries away: loaded by an older version, or by hand) are skipped here, and the run report counts them.
CREATE OR REPLACE VIEW usable_events AS
SELECT * FROM events
WHERE isfinite(ts) AND ts >= TIMESTAMPTZ '1900-01-01 00:00:00+00' AND ts < TIMESTAMPTZ '2200-01-01 00:00:00+00';

-- Who a user is and which account they belong to, derived from identify/group calls (latest wins).
CREATE OR REPLACE VIEW user_profiles AS
WITH identifies AS (
    SELECT user_id, ts, traits FROM usable_events WHERE type = 'identify' AND traits IS NOT NULL
), latest_traits AS (
    SELECT user_id,
           arg_max(traits->>'email', ts) FILTER (WHERE traits->>'email' IS NOT NULL)       AS email,
           arg_max(traits->>'name', ts) FILTER (WHERE traits->>'name' IS NOT NULL)         AS name,
           arg_max(coalesce(traits->>'firstName', traits->>'first_name'), ts)
               FILTER (WHERE coalesce(traits->>'firstName', traits->>'first_name') IS NOT NULL) AS first_name,
           arg_max(coalesce(traits->>'lastName', traits->>'last_name'), ts)
               FILTER (WHERE coalesce(traits->>'lastName', traits->>'last_name') IS NOT NULL)   AS last_name,
           arg_max(traits->>'plan', ts) FILTER (WHERE traits->>'plan' IS NOT NULL)         AS plan,
           arg_max(traits->>'timezone', ts) FILTER (WHERE traits->>'timezone' IS NOT NULL) AS timezone,
           arg_max(traits->>'unsubscribed', ts) FILTER (WHERE traits->>'unsubscribed' IS NOT NULL) AS unsub_trait
    FROM identifies GROUP BY user_id
), unsub_events AS (
    SELECT user_id, max(ts) AS unsubscribed_at FROM usable_events
    WHERE type = 'track' AND event = 'Unsubscribed' GROUP BY user_id
), memberships AS (
    SELECT user_id, arg_max(group_id, ts) AS account_id FROM usable_events
    WHERE type = 'group' AND group_id IS NOT NULL GROUP BY user_id
), users AS (
    SELECT DISTINCT user_id FROM usable_events
)
SELECT u.user_id, m.account_id, t.email, coalesce(t.name, nullif(concat_ws(' ', t.first_name, t.last_name), '')) AS name,
       t.first_name, t.last_name, t.plan, t.timezone,
       coalesce(lower(t.unsub_trait) IN ('true', '1', 'yes'), false) OR ue.unsubscribed_at IS NOT NULL AS unsubscribed
FROM users u
LEFT JOIN latest_traits t USING (user_id)
LEFT JOIN unsub_events ue USING (user_id)
LEFT JOIN memberships m USING (user_id);

-- Accounts from group calls: name, monthly revenue, and the account manager to alert in Slack.
CREATE OR REPLACE VIEW accounts AS
SELECT group_id AS account_id,
       arg_max(traits->>'name', ts) FILTER (WHERE traits->>'name' IS NOT NULL) AS name,
       arg_max(TRY_CAST(traits->>'mrr' AS DOUBLE), ts) FILTER (WHERE traits->>'mrr' IS NOT NULL) AS mrr,
       arg_max(traits->>'account_manager_slack_id', ts)
           FILTER (WHERE traits->>'account_manager_slack_id' IS NOT NULL) AS account_manager_slack_id
FROM usable_events WHERE type = 'group' AND group_id IS NOT NULL
GROUP BY group_id;
