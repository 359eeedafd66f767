-- What runs considered for one user and did not do (waiting, not sent, kept), newest first.
-- reads: decisions (read model)
-- writes: nothing
-- takes: $user_id, $limit
SELECT *, count(*) OVER () AS total FROM decisions WHERE user_id = $user_id
ORDER BY as_of DESC, logged_at DESC, kind LIMIT $limit;
