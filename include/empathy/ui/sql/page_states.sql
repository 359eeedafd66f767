-- The overview's headline: users per state and on hold, and the accounts' MRR by their worst state.
-- reads: users, accounts (read model)
-- writes: nothing
-- takes:
SELECT u.state, u.users, u.on_hold, coalesce(a.accounts, 0) AS accounts, coalesce(a.mrr, 0) AS mrr
FROM (SELECT state, count(*) AS users, count(*) FILTER (WHERE on_hold) AS on_hold FROM users GROUP BY state) u
LEFT JOIN (SELECT worst_state AS state, count(*) AS accounts, sum(mrr) AS mrr FROM accounts GROUP BY worst_state) a
    USING (state)
ORDER BY CASE u.state WHEN 'at_risk' THEN 1 WHEN 'frustrated' THEN 2 WHEN 'confused' THEN 3 WHEN 'exploring' THEN 4
         ELSE 5 END;
