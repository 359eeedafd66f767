-- Dynamic holds, with hysteresis: a user trending negative (a negative state, or an API error streak
-- still failing) is put on hold; a held user is released once nothing is negative, no negative evidence
-- was seen for $release_after_h hours, and something positive happened since (or they are delighted).
-- Release is checked for users scored now and for held users whose release time may have come.
-- reads: _pol_users, _pol_ev
-- writes: _pol_holds (temp: hold / release decisions, and holds kept with why)
-- takes: $as_of, $release_after_h
CREATE OR REPLACE TEMP TABLE _pol_holds AS
WITH negative AS (
    SELECT u.user_id,
           CASE WHEN u.state IN ('frustrated', 'at_risk')
                THEN u.state || ' since ' || strftime(coalesce(u.state_as_of, $as_of), '%a %d %b %H:%M UTC')
                WHEN s.user_id IS NOT NULL
                THEN 'API errors still failing (' || s.errors || ' in a row on ' || s.endpoints || ')' END AS why
    FROM _pol_users u
    LEFT JOIN (SELECT user_id, any_value(data->>'errors') AS errors,
                      array_to_string(flatten(list(from_json(data->'endpoints', '["VARCHAR"]') ORDER BY key)), ', ') AS endpoints
               FROM _pol_ev
               WHERE signal = 'api_error_streak' AND coalesce((data->>'ongoing')::BOOLEAN, true)
               GROUP BY user_id) s USING (user_id)
    WHERE u.state IS NOT NULL AND (u.scored_now OR u.on_hold)
), clock AS (  -- when the user was last seen negative: the hold itself, their states, their negative evidence
    SELECT u.user_id, greatest(u.hold_since, u.negative_seen_at,
                               (SELECT max(e.seen_at) FROM _pol_ev e WHERE e.user_id = u.user_id AND e.polarity < 0
                                  AND e.signal <> 'state' AND e.seen_at <= $as_of)) AS last_negative_at
    FROM _pol_users u WHERE u.on_hold
), positive AS (
    SELECT c.user_id, list(DISTINCT e.signal ORDER BY e.signal) AS kinds
    FROM clock c JOIN _pol_ev e USING (user_id)
    WHERE e.polarity > 0 AND e.signal <> 'state' AND (c.last_negative_at IS NULL OR e.seen_at > c.last_negative_at)
    GROUP BY c.user_id
)
SELECT u.user_id, u.account_id, 'hold' AS kind, 'decided' AS outcome, 'hold: ' || n.why AS reason,
       $as_of::TIMESTAMPTZ AS hold_since, u.state, u.email
FROM _pol_users u JOIN negative n USING (user_id)
WHERE n.why IS NOT NULL AND NOT u.on_hold
UNION ALL
SELECT u.user_id, u.account_id, 'release',
       CASE WHEN n.why IS NOT NULL THEN 'kept'
            WHEN epoch($as_of) - epoch(c.last_negative_at) < $release_after_h * 3600 THEN 'kept'
            WHEN p.kinds IS NULL AND u.state IS DISTINCT FROM 'delighted' THEN 'kept'
            ELSE 'decided' END,
       CASE WHEN n.why IS NOT NULL THEN 'still on hold: ' || n.why
            WHEN epoch($as_of) - epoch(c.last_negative_at) < $release_after_h * 3600
            THEN 'still on hold: negative evidence ' || round((epoch($as_of) - epoch(c.last_negative_at)) / 3600)::BIGINT
                 || ' h ago (released after ' || $release_after_h || ' h without any)'
            WHEN p.kinds IS NULL AND u.state IS DISTINCT FROM 'delighted' THEN 'still on hold: nothing positive yet since the last negative sign'
            ELSE 'release: nothing negative for ' || round((epoch($as_of) - epoch(c.last_negative_at)) / 3600)::BIGINT
                 || ' h and ' || coalesce('positive evidence (' || array_to_string(p.kinds, ', ') || ')', 'state delighted') END,
       u.hold_since, u.state, u.email
FROM _pol_users u
JOIN clock c USING (user_id)
LEFT JOIN negative n USING (user_id)
LEFT JOIN positive p USING (user_id)
WHERE u.on_hold AND (u.scored_now OR (n.why IS NULL AND epoch($as_of) - epoch(c.last_negative_at) >= $release_after_h * 3600));
