-- Drip emails: each due step through the rules, in order (docs/policy.md): several due at once -> only the
-- latest; too late -> skip; a promotion to a user who may be leaving -> their alternative, or skip;
-- unsubscribed -> transactional only; held -> promotional and educational wait; no address -> wait;
-- quiet hours in the user's timezone and the frequency cap -> non-transactional mail waits.
-- Holdout users get the standard drip (no tone or template adjustments); safety rules stay unless
-- $holdout_ignores_holds. What passes is `send`; its content is rendered by empathy.policy.emails.
-- reads: _due, _pol_users, _pol_holds, _seen
-- writes: _pol_drips (temp)
-- takes: $as_of, $scope, $drip_max_late_h, $holdout_pct, $holdout_salt, $holdout_ignores_holds, $quiet_start,
--        $quiet_end, $email_cap_per_day
CREATE OR REPLACE TEMP TABLE _pol_drips AS
WITH d AS (
    SELECT d.*, u.account_id, u.state, u.intents, u.email, u.name, u.timezone, u.timezone_known, u.unsubscribed,
           (u.on_hold AND r.user_id IS NULL) OR h.user_id IS NOT NULL AS held,   -- as decided in this window
           coalesce(h.reason, u.hold_reason) AS hold_reason,
           in_holdout(d.user_id, $holdout_salt, $holdout_pct) AS holdout,
           hour(timezone(CASE WHEN u.timezone_known THEN u.timezone ELSE 'UTC' END, $as_of::TIMESTAMPTZ)) AS local_hour
    FROM _due d
    LEFT JOIN _pol_users u USING (user_id)
    LEFT JOIN (SELECT user_id, reason FROM _pol_holds WHERE kind = 'hold') h USING (user_id)
    LEFT JOIN (SELECT user_id FROM _pol_holds WHERE kind = 'release' AND outcome = 'decided') r USING (user_id)
    WHERE NOT d.unchanged   -- deferred before and nothing it waits for changed (policy/due.sql)
), swapped AS (
    SELECT *,
           state = 'at_risk' AND category = 'promotional' AND NOT holdout AND at_risk_template IS NOT NULL AS swap
    FROM d
), g AS (
    SELECT *,
           CASE WHEN swap THEN at_risk_template ELSE template END AS use_template,
           CASE WHEN swap THEN coalesce(at_risk_category, 'support') ELSE category END AS use_category
    FROM swapped
), gated AS (
    SELECT *,
        CASE
            WHEN NOT latest_due THEN 'skip'
            WHEN epoch($as_of) - epoch(due_at) > $drip_max_late_h * 3600 THEN 'skip'
            WHEN state = 'at_risk' AND category = 'promotional' AND NOT swap THEN 'skip'
            WHEN unsubscribed AND use_category <> 'transactional' THEN 'skip'
            WHEN held AND NOT (holdout AND $holdout_ignores_holds) AND use_category IN ('promotional', 'educational') THEN 'defer'
            WHEN email IS NULL OR trim(email) = '' THEN 'defer'
            WHEN use_category <> 'transactional' AND in_quiet_hours(local_hour, $quiet_start, $quiet_end) THEN 'defer'
            ELSE 'send' END AS gate,
        CASE
            WHEN NOT latest_due THEN 'skipped: a later step of this campaign (' || latest_step || ') is due, so only that one is considered'
            WHEN epoch($as_of) - epoch(due_at) > $drip_max_late_h * 3600
            THEN 'skipped: too late (due ' || round((epoch($as_of) - epoch(due_at)) / 3600)::BIGINT
                 || ' h ago; steps wait at most ' || printf('%g', $drip_max_late_h) || ' h)'
            WHEN state = 'at_risk' AND category = 'promotional' AND NOT swap THEN 'skipped: no promotion to a user who may be leaving'
            WHEN unsubscribed AND use_category <> 'transactional'
            THEN 'skipped: unsubscribed, so transactional mail only (this step is ' || use_category || ')'
            WHEN held AND NOT (holdout AND $holdout_ignores_holds) AND use_category IN ('promotional', 'educational')
            THEN 'waiting: on hold (' || regexp_replace(coalesce(hold_reason, 'negative'), '^hold: ', '') || '), no '
                 || use_category || ' email until released'
            WHEN email IS NULL OR trim(email) = '' THEN 'waiting: no email address yet'
            WHEN use_category <> 'transactional' AND in_quiet_hours(local_hour, $quiet_start, $quiet_end)
            THEN 'waiting: quiet hours (' || lpad(local_hour::VARCHAR, 2, '0') || ':00 in '
                 || CASE WHEN timezone_known THEN timezone ELSE 'UTC' || CASE WHEN timezone IS NOT NULL THEN ', their timezone is not one we know' ELSE '' END END
                 || '; no marketing mail ' || $quiet_start || ':00-' || $quiet_end || ':00 local)'
        END AS why
    FROM g
), sent_before AS (  -- the frequency cap: non-transactional emails in the 24 h around this window
    SELECT user_id, count(*) AS n, max(as_of) AS last_at
    FROM _seen
    WHERE kind = 'email' AND status IN ('pending', 'sent', 'simulated')
      AND coalesce(detail->>'category', '') <> 'transactional'
      AND as_of > $as_of - INTERVAL 24 HOUR AND ($scope <> '' OR as_of < $as_of + INTERVAL 24 HOUR)
    GROUP BY user_id
), capped AS (
    SELECT g.*, coalesce(s.n, 0) AS sent_24h,
           CASE WHEN g.gate = 'send' AND g.use_category <> 'transactional'
                THEN coalesce(s.n, 0) + row_number() OVER (PARTITION BY g.user_id, g.gate = 'send' AND g.use_category <> 'transactional'
                                                           ORDER BY g.due_at, g.campaign) END AS nth
    FROM gated g LEFT JOIN sent_before s USING (user_id)
)
SELECT *,
       CASE WHEN nth > $email_cap_per_day THEN 'defer' ELSE gate END AS outcome,
       CASE WHEN nth > $email_cap_per_day
            THEN 'waiting: frequency cap (' || $email_cap_per_day || ' marketing email per 24 h; '
                 || sent_24h || ' already in the last 24 h)'
            ELSE why END AS outcome_reason
FROM capped;
