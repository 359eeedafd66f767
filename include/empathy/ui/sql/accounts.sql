-- The page's accounts, from the users just written: users per state, the worst state, MRR, and the
-- account's mean sentiment (its trend is drawn from its users' state changes when the page is opened).
-- reads: _ui_users
-- writes: nothing
-- takes:
SELECT account_id, any_value(account_name) AS name, max(mrr) AS mrr, any_value(account_manager) AS manager,
       count(*) AS users,
       count(*) FILTER (WHERE state = 'at_risk') AS at_risk,
       count(*) FILTER (WHERE state = 'frustrated') AS frustrated,
       count(*) FILTER (WHERE state = 'confused') AS confused,
       count(*) FILTER (WHERE state = 'exploring') AS exploring,
       count(*) FILTER (WHERE state = 'delighted') AS delighted,
       count(*) FILTER (WHERE on_hold) AS on_hold,
       CASE min(CASE state WHEN 'at_risk' THEN 1 WHEN 'frustrated' THEN 2 WHEN 'confused' THEN 3
                           WHEN 'exploring' THEN 4 ELSE 5 END)
            WHEN 1 THEN 'at_risk' WHEN 2 THEN 'frustrated' WHEN 3 THEN 'confused' WHEN 4 THEN 'exploring'
            ELSE 'delighted' END AS worst_state,
       round(avg(sentiment), 3) AS sentiment, max(updated_at) AS updated_at,
       lower(concat_ws(' ', account_id, any_value(account_name))) AS search
FROM _ui_users
WHERE account_id IS NOT NULL
GROUP BY account_id
ORDER BY account_id;
