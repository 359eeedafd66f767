-- Users to score at $as_of: those with events ingested since their state was last computed (or with
-- no state yet), plus, for a backfill window, everyone active in ($since, $as_of].
-- user_state.updated_at is the instant the scored snapshot was taken, so an event ingested after it
-- is new. Only events with ts <= $as_of matter (later ones wait for a later run).
SELECT DISTINCT e.user_id
FROM events e
LEFT JOIN user_state s ON s.user_id = e.user_id
WHERE e.ts <= $as_of
  AND (s.user_id IS NULL OR e.ingested_at > s.updated_at)
UNION
SELECT DISTINCT user_id
FROM events
WHERE $since IS NOT NULL AND ts > $since AND ts <= $as_of
ORDER BY 1
