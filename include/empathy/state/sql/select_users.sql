-- Users to score at $as_of: those with events ingested since their state was last computed (or with
-- no state yet); for a backfill window, everyone active in ($since, $as_of]; and those whose state
-- changes with time alone: an unresolved ticket turning stale, or evidence leaving the lookback window.
-- user_state.updated_at is the instant the scored snapshot was taken, so an event ingested after it
-- is new. Only events with ts <= $as_of matter (later ones wait for a later run).
-- reads: usable_events, user_state, user_evidence
-- writes: nothing (the user ids, sorted)
-- takes: $as_of, $since, $ticket_stale_s, $lookback_s
SELECT DISTINCT e.user_id
FROM usable_events e
LEFT JOIN user_state s ON s.user_id = e.user_id
WHERE e.ts <= $as_of
  AND (s.user_id IS NULL OR e.ingested_at > s.updated_at)
UNION
SELECT DISTINCT user_id
FROM usable_events
WHERE $since IS NOT NULL AND ts > $since AND ts <= $as_of
UNION
SELECT DISTINCT ev.user_id
FROM user_evidence ev
JOIN user_state s ON s.user_id = ev.user_id AND s.as_of = ev.as_of AND s.as_of < $as_of
WHERE (ev.signal = 'open_ticket'
       AND ev.first_at + to_seconds($ticket_stale_s) > s.as_of
       AND ev.first_at + to_seconds($ticket_stale_s) <= $as_of)
   OR (ev.polarity <> 0
       AND ev.last_at + to_seconds($lookback_s) > s.as_of
       AND ev.last_at + to_seconds($lookback_s) <= $as_of)
ORDER BY 1
