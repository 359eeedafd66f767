-- Users matching a search (a part of the user id, name or account; or the whole email address, found by
-- its hash) and a state, sorted on the server, a page at a time, with the number that matched.
-- reads: users (read model)
-- writes: nothing
-- takes: $q, $email_hash, $state, $account_id, $sort, $sign, $limit, $offset
SELECT user_id, name, account_id, account_name, mrr, state, sentiment, confidence, intents, on_hold, updated_at,
       as_of, rule, friction, count(*) OVER () AS total
FROM users
WHERE ($q = '' OR contains(search, $q) OR email_hash = $email_hash)
  AND ($state = '' OR state = $state)
  AND ($account_id = '' OR account_id = $account_id)
ORDER BY CASE $sort WHEN 'risk' THEN (CASE state WHEN 'at_risk' THEN 1 WHEN 'frustrated' THEN 2 WHEN 'confused' THEN 3
                                                  WHEN 'exploring' THEN 4 ELSE 5 END) * 10 + sentiment
                    WHEN 'sentiment' THEN sentiment WHEN 'mrr' THEN mrr
                    WHEN 'updated' THEN epoch(as_of) END * $sign NULLS LAST,
         CASE WHEN $sort = 'user' AND $sign = 1 THEN user_id END ASC,
         CASE WHEN $sort = 'user' AND $sign = -1 THEN user_id END DESC,
         user_id
LIMIT $limit OFFSET $offset;
