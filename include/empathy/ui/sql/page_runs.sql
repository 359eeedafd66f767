-- Runs, newest first, a page at a time, with what each decided (by kind and status) and whether a crash
-- left actions leased.
-- reads: runs, actions (read model)
-- writes: nothing
-- takes: $limit, $offset
WITH page AS (
    SELECT *, count(*) OVER () AS total FROM runs ORDER BY started_at DESC, run_id LIMIT $limit OFFSET $offset
)
SELECT p.run_id, p.run_type, p.mode, p.scope, p.as_of, p.window_start, p.stale_leases, p.quarantined,
       p.ingest_errors, p.started_at, p.total,
       (SELECT list({'kind': kind, 'status': status, 'n': n} ORDER BY kind, status)
        FROM (SELECT kind, status, count(*) AS n FROM actions a WHERE a.run_id = p.run_id GROUP BY ALL)) AS decided
FROM page p
ORDER BY p.started_at DESC, p.run_id;
