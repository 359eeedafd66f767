-- Take a batch of actions for delivery: pending rows never claimed, rows claimed by a relay that did not
-- record within the lease (a crash: re-sent at most once more, after the journal is checked), and failed
-- rows with attempts left, of one scope ('' = real decisions; a simulation claims only its own rows).
-- Claiming stamps updated_at, so the lease keeps a concurrent relay off the row until this one records.
-- (The claimed ids go through a temp table, not UPDATE ... RETURNING, which reads far more than it returns.)
-- reads: actions
-- writes: actions (attempts, updated_at), _claimed
-- takes: $max_attempts, $stale_before, $failed_before, $kinds, $scope, $limit
CREATE OR REPLACE TEMP TABLE _claimed AS
SELECT action_id FROM actions
WHERE deliverable(status, attempts, updated_at, $max_attempts, $stale_before, $failed_before)
  AND list_contains($kinds, kind)
  AND scope = $scope
ORDER BY created_at, action_id
LIMIT $limit;

UPDATE actions
SET status = 'pending', attempts = attempts + 1, updated_at = now()
WHERE action_id IN (SELECT action_id FROM _claimed);

SELECT action_id, user_id, account_id, kind, status, reason, CAST(detail AS VARCHAR) AS detail,
       created_at, as_of, run_id, simulate, scope, simulation, attempts, last_error, provider_id, preview_path
FROM actions SEMI JOIN _claimed USING (action_id)
ORDER BY created_at, action_id;
