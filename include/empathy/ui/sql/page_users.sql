-- Users matching a search (a part of the user id, name or account; or the whole email address, found by
-- its hash) and a state or an account, sorted on the server, a page at a time, with the number that matched.
-- The page's ids are found first (a top-N over the sort key alone), then only their rows are read.
-- reads: users (read model)
-- writes: nothing
-- takes: $q, $email_hash, $state, $account_id, $sort, $sign, $limit, $offset
WITH matching AS (
    SELECT user_id, state, sentiment, mrr, as_of FROM users
    WHERE ($q = '' OR contains(search, $q) OR email_hash = $email_hash)
      AND ($state = '' OR state = $state)
      AND ($account_id = '' OR account_id = $account_id)
), page AS (
    SELECT user_id,
           CASE $sort WHEN 'risk' THEN (CASE state WHEN 'at_risk' THEN 1 WHEN 'frustrated' THEN 2 WHEN 'confused' THEN 3
                                                    WHEN 'exploring' THEN 4 ELSE 5 END) * 10 + sentiment
                      WHEN 'sentiment' THEN sentiment WHEN 'mrr' THEN mrr
                      WHEN 'updated' THEN epoch(as_of) END * $sign AS k,
           CASE WHEN $sort = 'user' AND $sign = 1 THEN user_id END AS up,
           CASE WHEN $sort = 'user' AND $sign = -1 THEN user_id END AS down
    FROM matching
    ORDER BY k NULLS LAST, up ASC, down DESC, user_id
    LIMIT $limit OFFSET $offset
)
SELECT u.user_id, u.name, u.account_id, u.account_name, u.mrr, u.state, u.sentiment, u.confidence, u.intents,
       u.on_hold, u.updated_at, u.as_of, u.rule, u.friction, (SELECT count(*) FROM matching) AS total
FROM page p JOIN users u USING (user_id)
ORDER BY p.k NULLS LAST, p.up ASC, p.down DESC, p.user_id;
