-- Non-transactional emails decided per user in the 24 h before $as_of (the frequency cap's count).
SELECT user_id, count(*) AS n
FROM actions
WHERE kind = 'email' AND status IN ('pending', 'sent', 'simulated')
  AND coalesce(detail->>'category', '') <> 'transactional'
  AND as_of > $as_of - INTERVAL 24 HOUR AND as_of <= $as_of
  AND (NOT simulate OR sim_key = $sim_key)
  AND list_contains($user_ids::VARCHAR[], user_id)
GROUP BY user_id
