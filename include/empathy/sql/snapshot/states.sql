-- Users per state, and how many of them are on hold (the page's headline).
SELECT state, count(*) AS users, count(*) FILTER (WHERE on_hold) AS on_hold
FROM user_state
GROUP BY state
ORDER BY users DESC, state;
