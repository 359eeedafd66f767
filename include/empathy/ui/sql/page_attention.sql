-- What needs a person on the overview: landed files refused or read in part, quarantined lines per
-- reason, actions left leased by a crashed sending step (per run), and deliveries that failed.
-- reads: problems, runs, actions (read model)
-- writes: nothing
-- takes:
SELECT what, name, detail, n, seen_at FROM problems
UNION ALL
SELECT 'stale_leases', run_id, NULL, stale_leases, started_at FROM runs WHERE stale_leases > 0
UNION ALL
SELECT 'failed', kind, any_value(last_error), count(*), max(updated_at) FROM actions WHERE status = 'failed' GROUP BY kind
ORDER BY what, seen_at DESC NULLS LAST, name
LIMIT 200;
