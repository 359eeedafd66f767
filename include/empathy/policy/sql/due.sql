-- Drip steps due at $as_of: every enrolled user (first track event of a campaign's enrol_on list) whose
-- next steps (after the last step decided for them) have enrolled_at + delay_h <= $as_of. Decisions for
-- a user and campaign are made once per window: a step decided in this window or later is not due again.
-- A real run marks `unchanged` the steps an earlier real run deferred whose deferral cannot have changed:
-- the user was not scored now, their hold did not change and cannot be released in this window, the step
-- is not about to turn too late, and what it waits for still holds (still on hold, still no address,
-- still quiet hours in their timezone; a frequency cap is always checked again). Those are neither
-- decided nor logged again (their earlier deferral stands, `drip_deferrals` shows it): a run costs what
-- changed, not every step that waits.
-- reads: usable_events, _seen, _holds, _steps (the campaigns' steps), _run_users, decision_log, user_profiles
-- writes: _due (temp)
-- takes: $as_of, $scope, $release_after_h, $drip_max_late_h, $quiet_start, $quiet_end
CREATE OR REPLACE TEMP TABLE _due AS
WITH enrolled AS (
    SELECT s.campaign, e.user_id, min(e.ts) AS enrolled_at
    FROM usable_events e JOIN (SELECT DISTINCT campaign, unnest(enrol_on) AS event FROM _steps) s ON s.event = e.event
    WHERE e.type = 'track' AND e.ts <= $as_of
    GROUP BY ALL
), progress AS (
    SELECT a.detail->>'campaign' AS campaign, a.user_id, max(st.step_no) AS last_step_no, max(a.as_of) AS last_decided_as_of
    FROM _seen a JOIN _steps st ON st.campaign = a.detail->>'campaign' AND st.step = a.detail->>'step'
    WHERE a.kind = 'email'
    GROUP BY ALL
), due AS (
    SELECT e.campaign, e.user_id, e.enrolled_at, st.step_no, st.step, st.category, st.template,
           st.at_risk_template, st.at_risk_category,
           e.enrolled_at + to_microseconds(CAST(st.delay_h * 3600e6 AS BIGINT)) AS due_at,
           -- several steps due at once (a first run, a catch-up): only the latest is considered
           st.step_no = max(st.step_no) OVER (PARTITION BY e.campaign, e.user_id) AS latest_due,
           arg_max(st.step, st.step_no) OVER (PARTITION BY e.campaign, e.user_id) AS latest_step
    FROM enrolled e
    JOIN _steps st USING (campaign)
    LEFT JOIN progress p USING (campaign, user_id)
    WHERE st.step_no > coalesce(p.last_step_no, 0)
      AND coalesce(p.last_decided_as_of < $as_of, true)
      AND e.enrolled_at + to_microseconds(CAST(st.delay_h * 3600e6 AS BIGINT)) <= $as_of
), deferred AS (  -- the latest real deferral of each user's campaign step before this window
    SELECT l.user_id, l.detail->>'campaign' AS campaign, l.detail->>'step' AS step, l.as_of, l.reason
    FROM decision_log l SEMI JOIN (SELECT DISTINCT user_id FROM due) d USING (user_id)
    WHERE $scope = '' AND l.scope = '' AND l.kind = 'email' AND l.outcome = 'deferred' AND l.as_of < $as_of
    QUALIFY row_number() OVER (PARTITION BY l.user_id, l.detail->>'campaign', l.detail->>'step' ORDER BY l.as_of DESC) = 1
), zones AS (SELECT name FROM pg_timezone_names()
), joined AS (
    SELECT d.*, f.as_of AS deferred_at, f.reason AS deferred_for, r.user_id IS NOT NULL AS scored_now,
           h.on_hold, h.since AS hold_since, h.changed_at AS hold_changed_at,
           hour(timezone(CASE WHEN z.name IS NOT NULL THEN p.timezone ELSE 'UTC' END, $as_of::TIMESTAMPTZ)) AS local_hour
    FROM due d
    LEFT JOIN deferred f ON f.user_id = d.user_id AND f.campaign = d.campaign AND f.step = d.latest_step
    LEFT JOIN _run_users r ON r.user_id = d.user_id
    LEFT JOIN _holds h ON h.user_id = d.user_id
    LEFT JOIN user_profiles p ON p.user_id = d.user_id
    LEFT JOIN zones z ON z.name = p.timezone
)
SELECT * EXCLUDE (deferred_at, deferred_for, scored_now, on_hold, hold_since, hold_changed_at, local_hour),
       deferred_at IS NOT NULL AND NOT scored_now
       AND (hold_changed_at IS NULL OR hold_changed_at <= deferred_at)
       AND NOT (coalesce(on_hold, false) AND epoch($as_of) - epoch(hold_since) >= $release_after_h * 3600)
       AND epoch($as_of) - epoch(due_at) <= $drip_max_late_h * 3600
       AND CASE WHEN deferred_for LIKE 'waiting: on hold%' THEN coalesce(on_hold, false)
                WHEN deferred_for LIKE 'waiting: no email address%' THEN true
                WHEN deferred_for LIKE 'waiting: quiet hours%' THEN in_quiet_hours(local_hour, $quiet_start, $quiet_end)
                ELSE false END AS unchanged
FROM joined;
