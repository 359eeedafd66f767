-- One run's actions, a page at a time, optionally of one kind and status (ids first, then their rows).
-- reads: actions (read model)
-- writes: nothing
-- takes: $run_id, $kind, $status, $limit, $offset
WITH matching AS (
    SELECT action_id, kind, created_at FROM actions
    WHERE run_id = $run_id AND ($kind = '' OR kind = $kind) AND ($status = '' OR status = $status)
), page AS (
    SELECT action_id, kind, created_at FROM matching ORDER BY kind, created_at, action_id LIMIT $limit OFFSET $offset
)
SELECT a.*, (SELECT count(*) FROM matching) AS total
FROM page p JOIN actions a USING (action_id)
ORDER BY p.kind, p.created_at, p.action_id;
