-- Users per state at the end of each of the last $days days (of the data's own clock): each state change
-- counts +1 for its state from its day on and -1 from the day of the user's next change; a running sum
-- per state then gives each day's count (cost grows with state changes, not with users x days).
-- reads: user_state_history, user_state
-- writes: nothing
-- takes: $days
WITH points AS (
    SELECT user_id, as_of, state FROM user_state_history
    UNION
    SELECT user_id, as_of, state FROM user_state
), spans AS (
    SELECT state, date_trunc('day', as_of) AS from_day,
           date_trunc('day', lead(as_of) OVER (PARTITION BY user_id ORDER BY as_of)) AS to_day
    FROM points
), deltas AS (
    SELECT state, from_day AS day, 1 AS d FROM spans
    UNION ALL
    SELECT state, to_day, -1 FROM spans WHERE to_day IS NOT NULL
), running AS (
    SELECT state, day, sum(sum(d)) OVER (PARTITION BY state ORDER BY day) AS users
    FROM deltas GROUP BY state, day
), days AS (   -- the last $days days, or fewer when the data starts later
    SELECT unnest(generate_series(greatest(date_trunc('day', max(as_of)) - to_days($days::INTEGER - 1),
                                           (SELECT min(day) FROM deltas)),
                                  date_trunc('day', max(as_of)), INTERVAL 1 DAY)) AS day
    FROM user_state
), grid AS (
    SELECT days.day, s.state FROM days CROSS JOIN (SELECT DISTINCT state FROM running) s
)
SELECT g.day::DATE AS day, g.state, coalesce(r.users, 0)::BIGINT AS users
FROM grid g ASOF LEFT JOIN running r ON r.state = g.state AND r.day <= g.day
ORDER BY day, state;
