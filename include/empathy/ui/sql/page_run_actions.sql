-- One run's actions, a page at a time, optionally of one kind and status.
-- reads: actions (read model)
-- writes: nothing
-- takes: $run_id, $kind, $status, $limit, $offset
SELECT *, count(*) OVER () AS total FROM actions
WHERE run_id = $run_id AND ($kind = '' OR kind = $kind) AND ($status = '' OR status = $status)
ORDER BY kind, created_at, action_id LIMIT $limit OFFSET $offset;
