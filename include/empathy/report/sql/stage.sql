-- Record what one stage of a run did: one row per run (created by its first stage), one key per stage.
-- reads: pipeline_runs
-- writes: pipeline_runs
-- takes: $run_id, $run_type, $mode, $scope, $as_of, $window_start, $params, $stage, $now
INSERT INTO pipeline_runs (run_id, run_type, mode, scope, as_of, window_start, params, stages, started_at, updated_at)
VALUES ($run_id, $run_type, $mode, $scope, $as_of, $window_start, $params::JSON, $stage::JSON, $now, $now)
ON CONFLICT (run_id) DO UPDATE SET
    stages = json_merge_patch(pipeline_runs.stages, excluded.stages), updated_at = excluded.updated_at,
    mode = excluded.mode, scope = excluded.scope, as_of = excluded.as_of, params = excluded.params;
