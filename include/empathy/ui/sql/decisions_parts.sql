-- What runs considered and did not do (decision_log), per week of the decided window, fingerprinted.
-- reads: decision_log
-- writes: nothing
-- takes:
SELECT strftime(date_trunc('week', as_of), '%Y-%m-%d') AS part, count(*) AS n,
       sum(hash(run_id, scope, as_of, user_id, kind, outcome, reason, logged_at)::HUGEINT)::VARCHAR AS fp
FROM decision_log
GROUP BY ALL
ORDER BY part;
