-- Search loops: $search_loop+ searches in one session with no result used between them (no click,
-- no command, no page other than a search page). Consecutive unused searches form one island.
-- reads: sig_events
-- writes: evidence rows: search_loop (user_id, signal, key, first_at, last_at, count, detail)
-- takes: $search_loop
WITH steps AS (
    SELECT user_id, session_no, ts, message_id, query,
           coalesce(event = 'Search Performed', false) AS is_search
    FROM sig_events
    WHERE event = 'Search Performed' OR event IN ('Element Clicked', 'Command Executed')
       OR (type = 'page' AND coalesce(path, '') NOT ILIKE '%search%')
), islands AS (
    SELECT *, count(*) FILTER (WHERE NOT is_search)
                  OVER (PARTITION BY user_id, session_no ORDER BY ts, message_id ROWS UNBOUNDED PRECEDING) AS island
    FROM steps
), loops AS (
    SELECT user_id, session_no, island, min(ts) AS first_at, max(ts) AS last_at, count(*) AS searches,
           list(query ORDER BY ts) AS queries
    FROM islands WHERE is_search
    GROUP BY user_id, session_no, island
    HAVING count(*) >= $search_loop
)
SELECT user_id, 'search_loop' AS signal, strftime(first_at, '%Y-%m-%dT%H:%M:%S.%f') AS key, first_at, last_at, searches AS count,
       json_object('searches', searches, 'queries', queries[1:5]) AS detail
FROM loops
