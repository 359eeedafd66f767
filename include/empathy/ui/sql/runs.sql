-- Every pipeline run: its kind (mode, scope), window, settings and what each stage reported.
-- reads: pipeline_runs
-- writes: nothing
-- takes:
SELECT run_id, run_type, mode, scope, as_of, window_start, params::VARCHAR AS params, stages::VARCHAR AS stages,
       TRY_CAST(stages->'decide'->>'stale_leases' AS BIGINT) AS stale_leases,
       TRY_CAST(stages->'ingest'->>'quarantined' AS BIGINT) AS quarantined,
       json_array_length(stages->'ingest'->'errors') AS ingest_errors,
       started_at, updated_at
FROM pipeline_runs
ORDER BY started_at DESC, run_id;
