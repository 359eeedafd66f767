-- Accounts matching a search (a part of the account id or name), worst first.
-- reads: accounts (read model)
-- writes: nothing
-- takes: $q, $limit
SELECT account_id, name, mrr, users, worst_state, at_risk, frustrated, on_hold, count(*) OVER () AS total
FROM accounts
WHERE $q <> '' AND contains(search, $q)
ORDER BY CASE worst_state WHEN 'at_risk' THEN 1 WHEN 'frustrated' THEN 2 WHEN 'confused' THEN 3
         WHEN 'exploring' THEN 4 ELSE 5 END, mrr DESC NULLS LAST, account_id
LIMIT $limit;
