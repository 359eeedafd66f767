-- Users to score at $as_of, judged against each user's state *as of $as_of* (their current row, or the
-- latest history row at or before it), so the windows of a backfill select the same users in any order:
-- users with events up to $as_of and no state as of it yet; users with events ingested after the snapshot
-- their state was taken from (user_state.updated_at); for a window, everyone active in ($since, $as_of];
-- and users whose state changes with time alone since it was computed: an unresolved ticket turning
-- stale, or evidence leaving the lookback window. Only events with ts <= $as_of matter.
-- reads: usable_events, user_state, user_state_history
-- writes: nothing (the user ids, sorted)
-- takes: $as_of, $since, $ticket_stale_s, $lookback_s
-- state_at: a current row only moves forward, so it is the latest as of $as_of whenever it is that old;
-- otherwise the latest history row at or before $as_of (a backfill window: a live run never needs the second part,
-- and no longer carries every user's reasons through one aggregate over current and history rows).
WITH state_at AS (
    SELECT user_id, as_of, reasons FROM user_state WHERE as_of <= $as_of
    UNION ALL
    SELECT h.user_id, max(h.as_of), arg_max(h.reasons, h.as_of)
    FROM user_state_history h ANTI JOIN (SELECT user_id FROM user_state WHERE as_of <= $as_of) s USING (user_id)
    WHERE h.as_of <= $as_of
    GROUP BY h.user_id
), evidence AS (
    SELECT s.user_id, s.as_of, e.signal, e.polarity, e.since, struct_extract(e, 'at') AS last_at
    FROM (SELECT user_id, as_of, unnest(from_json(reasons, '[{"signal": "VARCHAR", "polarity": "INTEGER",
                 "at": "TIMESTAMPTZ", "since": "TIMESTAMPTZ"}]')) AS e FROM state_at) s
)
SELECT DISTINCT e.user_id
FROM usable_events e ANTI JOIN state_at s ON s.user_id = e.user_id
WHERE e.ts <= $as_of
UNION
SELECT DISTINCT e.user_id
FROM usable_events e JOIN user_state s ON s.user_id = e.user_id
WHERE e.ts <= $as_of AND e.ingested_at > s.updated_at
UNION
SELECT DISTINCT user_id
FROM usable_events
WHERE $since IS NOT NULL AND ts > $since AND ts <= $as_of
UNION
SELECT DISTINCT user_id
FROM evidence
WHERE (signal = 'open_ticket' AND since + to_seconds($ticket_stale_s) > as_of
       AND since + to_seconds($ticket_stale_s) <= $as_of)
   OR (polarity <> 0 AND last_at + to_seconds($lookback_s) > as_of AND last_at + to_seconds($lookback_s) <= $as_of)
ORDER BY 1
