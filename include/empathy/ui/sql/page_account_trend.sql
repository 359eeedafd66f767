-- One account over the last $days days: each day, its users' mean sentiment and how many were in each state
-- (a user counts from their first known state on; the latest state change before the day ended holds).
-- reads: users (read model)
-- writes: nothing
-- takes: $account_id, $days
WITH members AS (
    SELECT user_id, as_of, state, sentiment, history FROM users WHERE account_id = $account_id
), points AS (
    SELECT user_id, h.as_of, h.state, h.sentiment FROM members, unnest(history) AS t(h)
    UNION
    SELECT user_id, as_of, state, sentiment FROM members
), days AS (
    SELECT unnest(generate_series(greatest(date_trunc('day', max(as_of)) - to_days($days::INTEGER - 1),
                                           (SELECT date_trunc('day', min(as_of)) FROM points)),
                                  date_trunc('day', max(as_of)), INTERVAL 1 DAY)) AS day
    FROM members
), grid AS (
    SELECT d.day, m.user_id, d.day + INTERVAL 1 DAY AS day_end FROM days d CROSS JOIN (SELECT DISTINCT user_id FROM points) m
), daily AS (
    SELECT g.day, p.state, p.sentiment
    FROM grid g ASOF JOIN points p ON p.user_id = g.user_id AND p.as_of < g.day_end
)
SELECT day::DATE AS day, round(avg(sentiment), 3) AS sentiment, count(*) AS users,
       count(*) FILTER (WHERE state = 'at_risk') AS at_risk, count(*) FILTER (WHERE state = 'frustrated') AS frustrated,
       count(*) FILTER (WHERE state = 'confused') AS confused, count(*) FILTER (WHERE state = 'exploring') AS exploring,
       count(*) FILTER (WHERE state = 'delighted') AS delighted
FROM daily GROUP BY day ORDER BY day;
