-- Drip steps due at $as_of: per enrolled user, the first step of campaign $campaign with no decision yet
-- (steps go out in order, at most one per user and campaign per as_of, so a rerun of the same run decides
-- nothing new), when enrolled_at + delay_h <= $as_of. Enrolment = the user's first $enrol_on track event.
-- A decision is a real action row, or in a simulation one of the same $sim_key.
WITH enrolled AS (
    SELECT user_id, min(ts) AS enrolled_at
    FROM events
    WHERE type = 'track' AND list_contains($enrol_on::VARCHAR[], event) AND ts <= $as_of
    GROUP BY user_id
), steps AS (
    SELECT i AS step_no, ($step_ids::VARCHAR[])[i] AS step, ($delays_h::DOUBLE[])[i] AS delay_h,
           CASE WHEN i > 1 THEN ($step_ids::VARCHAR[])[i - 1] END AS prev_step
    FROM range(1, len($step_ids::VARCHAR[]) + 1) t(i)
), decided AS (
    SELECT user_id, detail->>'step' AS step, min(as_of) AS decided_as_of
    FROM actions
    WHERE kind = 'email' AND detail->>'campaign' = $campaign
      AND (NOT simulate OR sim_key = $sim_key)
    GROUP BY ALL
), next_step AS (
    SELECT e.user_id, e.enrolled_at, s.step_no, s.step, s.delay_h, prev.decided_as_of AS prev_decided_as_of
    FROM enrolled e CROSS JOIN steps s
    LEFT JOIN decided d ON d.user_id = e.user_id AND d.step = s.step
    LEFT JOIN decided prev ON prev.user_id = e.user_id AND prev.step = s.prev_step
    WHERE d.user_id IS NULL
    QUALIFY row_number() OVER (PARTITION BY e.user_id ORDER BY s.step_no) = 1
)
SELECT user_id, enrolled_at, step, enrolled_at + to_microseconds(CAST(delay_h * 3600e6 AS BIGINT)) AS due_at
FROM next_step
WHERE enrolled_at + to_microseconds(CAST(delay_h * 3600e6 AS BIGINT)) <= $as_of
  AND (step_no = 1 OR prev_decided_as_of < $as_of)
ORDER BY user_id
