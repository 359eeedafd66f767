-- Apply this run's hold decisions (temp input _policy_holds_in: what = hold | touch | release).
-- hold: a new episode starts; touch: negative evidence seen again (the release clock restarts);
-- release: the episode ends. The history row of the state that caused a hold or release shows it too.
INSERT INTO policy_holds (user_id, on_hold, since, reason, last_negative_at, released_at, updated_at)
SELECT user_id, true, $as_of, reason, last_negative_at, NULL, $now FROM _policy_holds_in WHERE what = 'hold'
ON CONFLICT (user_id) DO UPDATE SET on_hold = true, since = excluded.since, reason = excluded.reason,
    last_negative_at = excluded.last_negative_at, released_at = NULL, updated_at = excluded.updated_at;

UPDATE policy_holds AS h
SET last_negative_at = greatest(h.last_negative_at, i.last_negative_at), updated_at = $now
FROM _policy_holds_in AS i
WHERE i.what = 'touch' AND h.user_id = i.user_id;

UPDATE policy_holds AS h
SET on_hold = false, released_at = $as_of, updated_at = $now
FROM _policy_holds_in AS i
WHERE i.what = 'release' AND h.user_id = i.user_id;

UPDATE user_state_history AS h
SET on_hold = (i.what = 'hold')
FROM (SELECT i.user_id, i.what, max(s.as_of) AS as_of
      FROM _policy_holds_in i JOIN user_state_history s ON s.user_id = i.user_id AND s.as_of <= $as_of
      WHERE i.what IN ('hold', 'release')
      GROUP BY ALL) AS i
WHERE h.user_id = i.user_id AND h.as_of = i.as_of;
