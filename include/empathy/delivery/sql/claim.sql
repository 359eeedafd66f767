-- Take a batch of actions for delivery: pending rows never claimed, rows claimed by a relay that did not
-- record within the lease (a crash: re-sent at most once more, after the journal is checked), and failed
-- rows with attempts left, of one scope ('' = real decisions; a simulation claims only its own rows).
-- Claiming stamps updated_at, so the lease keeps a concurrent relay off the row until this one records.
-- (The claimed rows go through a temp table, not UPDATE ... RETURNING, which reads far more than it returns;
-- they are found again by rowid, stable inside this transaction: at 245k actions the last SELECT takes 8 ms
-- a batch of 2,000 so, 45 ms as a join on action_id, which reads every row's detail; the claim 66 ms, not 86.)
-- reads: actions
-- writes: actions (attempts, updated_at), _claimed
-- takes: $max_attempts, $stale_before, $failed_before, $kinds, $scope, $limit
CREATE OR REPLACE TEMP TABLE _claimed AS
SELECT rowid AS row_id FROM actions
WHERE deliverable(status, attempts, updated_at, $max_attempts, $stale_before, $failed_before)
  AND list_contains($kinds, kind)
  AND scope = $scope
ORDER BY created_at, action_id
LIMIT $limit;

UPDATE actions
SET status = 'pending', attempts = attempts + 1, updated_at = now()
WHERE rowid IN (SELECT row_id FROM _claimed);

SELECT action_id, user_id, account_id, kind, status, reason, CAST(detail AS VARCHAR) AS detail,
       created_at, as_of, run_id, simulate, scope, simulation, attempts, last_error, provider_id, preview_path
FROM actions WHERE rowid IN (SELECT row_id FROM _claimed)
ORDER BY created_at, action_id;
