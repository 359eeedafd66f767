-- The users a person should look at first: most negative trend first, with the evidence behind the state.
SELECT s.user_id, s.account_id, a.name AS account_name, a.mrr, s.state, s.sentiment, s.confidence,
       s.intents, s.on_hold, s.reasons::VARCHAR AS reasons, s.scorer, s.as_of, s.updated_at
FROM user_state s
LEFT JOIN accounts a USING (account_id)
ORDER BY s.sentiment ASC, s.confidence DESC, s.user_id
LIMIT $limit;
