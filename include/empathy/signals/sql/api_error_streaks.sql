-- API error streaks (gaps and islands): $api_error_streak+ consecutive failed `API Request`s
-- (status_code >= 400) with no successful request between. Errors spread out between successes are
-- not a streak. The first success after a streak is a recovery (a positive signal).
-- reads: sig_events
-- writes: evidence rows: api_error_streak, recovered_after_errors (user_id, signal, key, first_at, last_at, count, detail)
-- takes: $api_error_streak
WITH calls AS (
    SELECT user_id, ts, message_id, endpoint, status_code, error_message,
           status_code >= 400 AS failed,
           -- island id: successes so far; consecutive errors share it
           count(*) FILTER (WHERE status_code < 400) OVER (PARTITION BY user_id ORDER BY ts, message_id
                                                           ROWS UNBOUNDED PRECEDING) AS island
    FROM sig_events
    WHERE type = 'track' AND event = 'API Request' AND status_code IS NOT NULL
), streaks AS (
    SELECT user_id, island, min(ts) AS first_at, max(ts) AS last_at, count(*) AS errors,
           list(DISTINCT endpoint ORDER BY endpoint) FILTER (WHERE endpoint IS NOT NULL) AS endpoints,
           list(DISTINCT status_code ORDER BY status_code) AS statuses,
           arg_max(error_message, ts) AS last_error
    FROM calls WHERE failed
    GROUP BY user_id, island
    HAVING count(*) >= $api_error_streak
), recoveries AS (  -- the success that closes each streak (the island's next id starts with it)
    SELECT s.user_id, s.island, s.last_at AS streak_last_at, c.ts AS recovered_at, c.endpoint
    FROM streaks s JOIN calls c ON c.user_id = s.user_id AND c.island = s.island + 1 AND NOT c.failed
), commands_after AS (  -- or a command run after the streak's last error
    SELECT s.user_id, s.island, min(e.ts) AS command_at
    FROM streaks s JOIN sig_events e ON e.user_id = s.user_id AND e.event = 'Command Executed' AND e.ts > s.last_at
    GROUP BY s.user_id, s.island
)
SELECT s.user_id, 'api_error_streak' AS signal, strftime(s.first_at, '%Y-%m-%dT%H:%M:%S.%f') AS key, s.first_at, s.last_at, s.errors AS count,
       json_object('errors', s.errors, 'endpoints', s.endpoints, 'statuses', s.statuses,
                   'error_message', s.last_error,
                   'ongoing', r.recovered_at IS NULL AND ca.command_at IS NULL) AS detail
FROM streaks s
LEFT JOIN recoveries r USING (user_id, island)
LEFT JOIN commands_after ca USING (user_id, island)
UNION ALL
SELECT s.user_id, 'recovered_after_errors', strftime(s.first_at, '%Y-%m-%dT%H:%M:%S.%f'),
       least(r.recovered_at, ca.command_at), least(r.recovered_at, ca.command_at), 1,
       json_object('after_errors', s.errors, 'endpoints', s.endpoints,
                   'by', CASE WHEN r.recovered_at IS NOT NULL AND (ca.command_at IS NULL OR r.recovered_at <= ca.command_at)
                              THEN 'successful ' || coalesce(r.endpoint, 'API') || ' call' ELSE 'command run' END)
FROM streaks s
LEFT JOIN recoveries r USING (user_id, island)
LEFT JOIN commands_after ca USING (user_id, island)
WHERE r.recovered_at IS NOT NULL OR ca.command_at IS NOT NULL
