-- Whether the actions changed since the last refresh, and since when: a fingerprint of every row's delivery
-- fields (the same one ui/actions_check.sql takes of the page's files), the count, and the latest
-- updated_at (every insert and update of an action stamps it: the mark the next refresh starts from).
-- reads: actions
-- writes: nothing
-- takes:
SELECT coalesce(sum(hash(action_id, status, updated_at, attempts, delivered_at, last_error, run_id)::HUGEINT), 0)::VARCHAR
           AS fp,
       count(*) AS n,
       max(updated_at)::VARCHAR AS mark
FROM actions;
