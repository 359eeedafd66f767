-- Positive engagement: opened or clicked emails (Segment's email spec), and productive use.
-- reads: sig_events
-- writes: evidence rows: email_engaged, productive_use (user_id, signal, key, first_at, last_at, count, detail)
-- takes: nothing
SELECT user_id, 'email_engaged' AS signal, event AS key,
       min(ts) AS first_at, max(ts) AS last_at, count(*) AS count,
       json_object('event', event, 'times', count(*)) AS detail
FROM sig_events
WHERE event IN ('Email Opened', 'Email Link Clicked')
GROUP BY user_id, event
UNION ALL
-- Productive use: successful commands and API calls. A faint positive in the trend (an engaged power
-- user is not neutral), never enough on its own to make anyone delighted.
SELECT user_id, 'productive_use', 'window',
       min(ts), max(ts), count(*),
       json_object('commands', count(*) FILTER (WHERE event = 'Command Executed'),
                   'api_ok', count(*) FILTER (WHERE event = 'API Request'),
                   'active_days', count(DISTINCT date_trunc('day', ts)))
FROM sig_events
WHERE event = 'Command Executed' OR (event = 'API Request' AND status_code < 400)
GROUP BY user_id
