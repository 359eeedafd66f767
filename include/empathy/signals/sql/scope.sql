-- Staging: the selected users' events inside the lookback window (as_of - lookback, as_of], with the
-- fields the detectors read pulled out of the JSON once, and sessions cut after session_gap_s of
-- inactivity. identify/group/alias calls are left out. Server-side calls (payments, agent replies,
-- ticket resolutions, email opens) are kept but are not "activity": they neither start nor extend a
-- session and are never "the next event" that ends a page's dwell.
-- reads: usable_events, _scope_users_in (the users to score)
-- writes: _scope_users, sig_events (temp)
-- takes: $as_of, $lookback_s, $session_gap_s
CREATE OR REPLACE TEMP TABLE _scope_users AS SELECT DISTINCT user_id FROM _scope_users_in;

CREATE OR REPLACE TEMP TABLE sig_events AS
WITH scoped AS (
    SELECT e.message_id, e.user_id, e.type, e.event, e.name, e.ts, e.properties, e.context
    FROM usable_events e SEMI JOIN _scope_users u ON e.user_id = u.user_id
    WHERE e.ts <= $as_of AND e.ts > $as_of - to_seconds($lookback_s)
      AND e.type IN ('track', 'page', 'screen')
), extracted AS (  -- each JSON document parsed once: one multi-path extraction per column
    SELECT message_id, user_id, type, event, name, ts,
           json_extract_string(properties, ['$.path', '$."$pathname"', '$."$current_url"', '$.url', '$.element',
               '$."$el_text"', '$.selector', '$.status_code', '$.endpoint', '$.error_message', '$.query',
               '$.command', '$.ticket_id', '$.subject', '$.text', '$.author', '$.invoice_id', '$.amount',
               '$.currency', '$.reason', '$.plan']) AS p,
           context->'page'->>'path' AS context_path
    FROM scoped
), fields AS (
    SELECT message_id, user_id, type, event, name, ts,
           coalesce(p[1], context_path, p[2], p[3], p[4])  AS path,
           coalesce(p[5], p[6], p[7])                     AS element,
           TRY_CAST(p[8] AS INTEGER)                      AS status_code,
           p[9]  AS endpoint, p[10] AS error_message, p[11] AS query, p[12] AS command, p[13] AS ticket_id,
           p[14] AS subject, p[15] AS text, lower(p[16]) AS author, p[17] AS invoice_id,
           TRY_CAST(p[18] AS DOUBLE)                      AS amount,
           p[19] AS currency, p[20] AS reason, p[21] AS plan,
           NOT (coalesce(event, '') IN ('Payment Failed', 'Payment Succeeded', 'Support Ticket Resolved', 'Email Opened',
                          'Unsubscribed', 'Subscription Cancelled')
                OR (event = 'Support Message Sent' AND coalesce(lower(p[16]), '') IN ('agent', 'support', 'bot', 'system')))
               AS is_activity
    FROM extracted
), gaps AS (
    SELECT *,
           CASE WHEN is_activity THEN
               CASE WHEN epoch(ts) - lag(epoch(ts)) OVER w > $session_gap_s
                      OR lag(ts) OVER w IS NULL THEN 1 ELSE 0 END
           END AS new_session,
           CASE WHEN is_activity THEN lead(ts) OVER w END AS next_activity_at
    FROM fields
    WINDOW w AS (PARTITION BY user_id, is_activity ORDER BY ts, message_id)
)
SELECT *,
       -- sessions number activity only; a server-side call belongs to the session open at its time
       sum(coalesce(new_session, 0)) OVER (PARTITION BY user_id ORDER BY ts, message_id
                                           ROWS UNBOUNDED PRECEDING) AS session_no,
       CASE WHEN epoch(next_activity_at) - epoch(ts) <= $session_gap_s THEN next_activity_at END AS next_in_session_at
FROM gaps;
