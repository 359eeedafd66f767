-- user_state.on_hold shows the current truth: the hold table's, for every user whose value differs.
UPDATE user_state AS s
SET on_hold = coalesce(h.on_hold, false)
FROM (SELECT u.user_id, h.on_hold FROM user_state u LEFT JOIN policy_holds h USING (user_id)) AS h
WHERE s.user_id = h.user_id AND s.on_hold IS DISTINCT FROM coalesce(h.on_hold, false)
