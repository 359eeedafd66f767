-- Claimed rows whose relay never recorded an outcome (it crashed) and that have used every attempt:
-- they stop here, visibly, instead of being claimed forever.
UPDATE actions
SET status = 'failed',
    last_error = 'no outcome recorded after ' || attempts || ' attempts (relay crashed?)',
    updated_at = now()
WHERE status = 'pending'
  AND attempts >= $max_attempts
  AND updated_at < $stale_before;
