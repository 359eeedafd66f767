-- Drip steps due at $as_of: every enrolled user (first track event of a campaign's enrol_on list) whose
-- next steps (after the last step decided for them) have enrolled_at + delay_h <= $as_of. Decisions for
-- a user and campaign are made once per window: a step decided in this window or later is not due again.
-- reads: usable_events, _seen, _steps (the campaigns' steps)
-- writes: _due (temp)
-- takes: $as_of
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
)
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
  AND e.enrolled_at + to_microseconds(CAST(st.delay_h * 3600e6 AS BIGINT)) <= $as_of;
