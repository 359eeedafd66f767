-- Take every deliverable action of some kinds in one scope for previewing (nothing leaves the machine, so
-- no provider's pace caps a run): one claim for all of them, as `claim.sql` stamps a batch, and their rows
-- written to Parquet files, one folder per batch of $batch rows, for the processes that make the previews
-- (no row passes through Python here; each process reads its batch's file).
-- reads: actions
-- writes: actions (attempts, updated_at), _claimed, the folder $folder
-- takes: $max_attempts, $stale_before, $failed_before, $kinds, $scope, $batch, $folder
CREATE OR REPLACE TEMP TABLE _claimed AS
SELECT rowid AS row_id, (row_number() OVER (ORDER BY created_at, action_id) - 1) // $batch AS batch
FROM actions
WHERE deliverable(status, attempts, updated_at, $max_attempts, $stale_before, $failed_before)
  AND list_contains($kinds, kind)
  AND scope = $scope;

UPDATE actions
SET status = 'pending', attempts = attempts + 1, updated_at = now()
WHERE rowid IN (SELECT row_id FROM _claimed);

COPY (
    SELECT c.batch, a.action_id, a.user_id, a.account_id, a.kind, a.status, a.reason,
           CAST(a.detail AS VARCHAR) AS detail, a.created_at, a.as_of, a.run_id, a.simulate, a.scope,
           a.simulation, a.attempts, a.last_error, a.provider_id, a.preview_path
    FROM actions AS a JOIN _claimed AS c ON a.rowid = c.row_id
) TO $folder (FORMAT parquet, PARTITION_BY (batch), OVERWRITE);

SELECT count(*) AS claimed, coalesce(max(batch) + 1, 0) AS batches FROM _claimed;
