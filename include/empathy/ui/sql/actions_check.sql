-- The same fingerprint as ui/actions_fingerprint.sql, of the page's actions files (base and delta merged):
-- equal when the files hold exactly the table's rows; otherwise the refresh writes them all again.
-- reads: _ui_actions_merged (the files, merged by action_id)
-- writes: nothing
-- takes:
SELECT coalesce(sum(hash(action_id, status, updated_at, attempts, delivered_at, last_error, run_id)::HUGEINT), 0)::VARCHAR
           AS fp,
       count(*) AS n
FROM _ui_actions_merged;
