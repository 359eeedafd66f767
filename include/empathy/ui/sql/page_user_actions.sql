-- One user's actions, newest first, a page at a time.
-- reads: actions (read model)
-- writes: nothing
-- takes: $user_id, $limit, $offset
SELECT *, count(*) OVER () AS total FROM actions WHERE user_id = $user_id
ORDER BY created_at DESC, action_id LIMIT $limit OFFSET $offset;
