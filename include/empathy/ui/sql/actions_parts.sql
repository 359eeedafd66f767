-- The actions per week of creation, each week with a fingerprint: only a week whose rows changed (a new
-- decision, a delivery recorded, a simulation rewound) is written again.
-- reads: actions
-- writes: nothing
-- takes:
SELECT strftime(date_trunc('week', created_at), '%Y-%m-%d') AS part, count(*) AS n,
       sum(hash(action_id, status, updated_at, attempts, preview_path, delivered_at, last_error, run_id)::HUGEINT)::VARCHAR AS fp
FROM actions
GROUP BY ALL
ORDER BY part;
