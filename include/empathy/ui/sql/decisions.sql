-- One week of the decision log as the page shows it, by user and time.
-- reads: decision_log
-- writes: nothing
-- takes: $part
SELECT run_id, scope, as_of, user_id, account_id, kind, outcome, reason,
       detail->>'campaign' AS campaign, detail->>'step' AS step, logged_at
FROM decision_log
WHERE strftime(date_trunc('week', as_of), '%Y-%m-%d') = $part
ORDER BY user_id, as_of, kind;
