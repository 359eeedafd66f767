-- What the small tables of the read model are made of, cheaply: a table is rewritten only when its
-- sources changed since the last refresh.
-- reads: pipeline_runs, ingest_errors, ingested_files, quarantine
-- writes: nothing
-- takes:
SELECT (SELECT count(*) || '/' || coalesce(max(updated_at)::VARCHAR, '') FROM pipeline_runs) AS runs,
       (SELECT count(*) || '/' || coalesce(max(seen_at)::VARCHAR, '') FROM ingest_errors) || '/'
           || (SELECT count(*) || '/' || coalesce(max(ingested_at)::VARCHAR, '') FROM ingested_files) || '/'
           || (SELECT count(*) FROM quarantine) AS problems;
