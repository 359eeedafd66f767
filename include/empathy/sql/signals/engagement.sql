-- Positive engagement: opened or clicked emails (Segment's email spec).
SELECT user_id, 'email_engaged' AS signal, event AS key, 1 AS polarity, 0.25 AS weight,
       min(ts) AS first_at, max(ts) AS last_at, count(*) AS count,
       json_object('event', event, 'times', count(*)) AS detail
FROM sig_events
WHERE event IN ('Email Opened', 'Email Link Clicked')
GROUP BY user_id, event
