-- One run as a marketer reads it: what kind of run, its window, what each stage reported, and what it
-- decided by kind and status, with the reasons in words (decided and not done).
-- reads: pipeline_runs, actions, decision_log
-- writes: nothing
-- takes: $run_id
SELECT r.run_id, r.run_type, r.mode, r.scope, r.as_of, r.window_start, r.params::VARCHAR AS params,
       r.stages::VARCHAR AS stages, r.started_at, r.updated_at,
       (SELECT list({'kind': kind, 'status': status, 'simulation': simulation, 'n': n} ORDER BY kind, status)
        FROM (SELECT kind, status, simulation, count(*) AS n FROM actions WHERE run_id = $run_id GROUP BY ALL)) AS actions,
       (SELECT list({'kind': kind, 'reason': reason, 'n': n} ORDER BY n DESC, kind, reason)[1:12]
        FROM (SELECT kind, regexp_replace(reason, ' \(.*$', '') AS reason, count(*) AS n
              FROM actions WHERE run_id = $run_id GROUP BY ALL)) AS reasons,
       (SELECT list({'kind': kind, 'outcome': outcome, 'reason': reason, 'n': n} ORDER BY n DESC, kind, reason)[1:12]
        FROM (SELECT kind, outcome, regexp_replace(reason, ' \(([0-9]+ |\+).*$', '') AS reason, count(*) AS n
              FROM decision_log WHERE run_id = $run_id GROUP BY ALL)) AS not_done,
       (SELECT list({'kind': kind, 'status': status, 'user_id': user_id, 'reason': reason,
                     'what': coalesce(detail->>'subject', detail->>'channel', ''), 'preview': preview_path}
                    ORDER BY kind, created_at, action_id)
        FROM (SELECT * FROM actions WHERE run_id = $run_id AND status <> 'skipped'
              QUALIFY row_number() OVER (PARTITION BY kind ORDER BY created_at, action_id) <= 3)) AS examples
FROM pipeline_runs r WHERE r.run_id = $run_id;
