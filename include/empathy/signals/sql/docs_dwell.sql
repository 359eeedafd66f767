-- Docs dwell without action: a /docs/ page read for $docs_dwell_s+ seconds (until the user's next
-- activity in the same session) with no `Command Executed` later in that session. A reader who
-- runs the command afterwards is not confused; the last page before a session ends has no known dwell.
-- reads: sig_events
-- writes: evidence rows: docs_dwell (user_id, signal, key, first_at, last_at, count, detail)
-- takes: $docs_dwell_s
WITH reads AS (
    SELECT user_id, message_id, session_no, ts, path,
           epoch(next_in_session_at) - epoch(ts) AS dwell_s
    FROM sig_events
    WHERE type = 'page' AND (path LIKE '/docs/%' OR path = '/docs' OR path LIKE '%://%/docs/%')
), long_reads AS (
    SELECT r.* FROM reads r
    WHERE r.dwell_s >= $docs_dwell_s
      AND NOT EXISTS (SELECT 1 FROM sig_events c
                      WHERE c.user_id = r.user_id AND c.session_no = r.session_no
                        AND c.event = 'Command Executed' AND c.ts > r.ts)
)
SELECT user_id, 'docs_dwell' AS signal, path AS key,
       min(ts) AS first_at, max(ts) AS last_at, count(*) AS count,
       json_object('path', path, 'reads', count(*), 'longest_s', round(max(dwell_s))) AS detail
FROM long_reads
GROUP BY user_id, path
