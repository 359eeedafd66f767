-- Claimed rows whose relay never recorded an outcome (it crashed): the ones that have used every attempt
-- stop here, visibly, instead of being claimed forever; the run report counts every stale lease it met.
-- reads: actions
-- writes: actions, _stale_leases (temp)
-- takes: $max_attempts, $stale_before
CREATE OR REPLACE TEMP TABLE _stale_leases AS
SELECT action_id, kind, attempts, updated_at FROM actions
WHERE status = 'pending' AND attempts > 0 AND updated_at < $stale_before;

UPDATE actions
SET status = 'failed',
    last_error = 'no outcome recorded after ' || attempts || ' attempts (the sending step crashed?)',
    updated_at = now()
WHERE status = 'pending'
  AND attempts >= $max_attempts
  AND updated_at < $stale_before;
