-- Drip steps due at $as_of (enrolled_at + delay_h <= $as_of) after the user's last decided step of
-- campaign $campaign, in order. Decisions for a user and campaign happen once per as_of (a rerun of the
-- same run decides nothing new); when several steps are due at once, policy sends the latest and
-- skips the earlier ones as superseded. Enrolment = the user's first $enrol_on track event.
-- A decision is a real action row, or in a simulation one of the same $sim_key.
WITH enrolled AS (
    SELECT user_id, min(ts) AS enrolled_at
    FROM events
    WHERE type = 'track' AND list_contains($enrol_on::VARCHAR[], event) AND ts <= $as_of
    GROUP BY user_id
), steps AS (
    SELECT i AS step_no, ($step_ids::VARCHAR[])[i] AS step, ($delays_h::DOUBLE[])[i] AS delay_h
    FROM range(1, len($step_ids::VARCHAR[]) + 1) t(i)
), decided AS (
    SELECT user_id, detail->>'step' AS step, min(as_of) AS decided_as_of
    FROM actions
    WHERE kind = 'email' AND detail->>'campaign' = $campaign
      AND (NOT simulate OR sim_key = $sim_key)
    GROUP BY ALL
), progress AS (  -- how far each user got, and when the last decision was made
    SELECT d.user_id, max(s.step_no) AS last_step_no, max(d.decided_as_of) AS last_decided_as_of
    FROM decided d JOIN steps s ON s.step = d.step
    GROUP BY d.user_id
), due AS (
    SELECT e.user_id, e.enrolled_at, s.step_no, s.step,
           e.enrolled_at + to_microseconds(CAST(s.delay_h * 3600e6 AS BIGINT)) AS due_at
    FROM enrolled e CROSS JOIN steps s
    LEFT JOIN progress p ON p.user_id = e.user_id
    WHERE s.step_no > coalesce(p.last_step_no, 0)
      AND (p.last_decided_as_of IS NULL OR p.last_decided_as_of < $as_of)
)
SELECT user_id, enrolled_at, step, due_at
FROM due
WHERE due_at <= $as_of
ORDER BY user_id, step_no
