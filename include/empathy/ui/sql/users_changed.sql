-- What the page needs of each changed user: their state row and account, the evidence (reasons), the names
-- their texts are redacted of (the state's profile evidence: traits name and email), and their state
-- changes for the chart.
-- reads: _ui_changed, user_state, _ui_accounts, _ui_fp (temp macro), user_evidence, user_state_history
-- writes: _ui_history, _ui_new (temp)
-- takes: $history_points
CREATE OR REPLACE TEMP TABLE _ui_history AS
SELECT h.user_id,
       list({'as_of': h.as_of, 'state': h.state, 'sentiment': round(h.sentiment, 3), 'confidence': round(h.confidence, 3),
             'on_hold': h.on_hold, 'previous_state': h.previous_state} ORDER BY h.as_of DESC)[1:$history_points] AS history
FROM user_state_history h SEMI JOIN _ui_changed c USING (user_id)
GROUP BY h.user_id;

CREATE OR REPLACE TEMP TABLE _ui_new AS
SELECT s.user_id, s.account_id, a.name AS account_name, a.mrr, a.account_manager_slack_id AS account_manager,
       s.state, s.sentiment, s.confidence, s.intents, s.on_hold, s.scorer, s.as_of, s.updated_at,
       s.last_event_at, s.run_id,
       _ui_fp(s, a.account_fp) AS fp,
       coalesce(h.history, []) AS history
FROM user_state s SEMI JOIN _ui_changed c USING (user_id)
LEFT JOIN _ui_accounts a USING (account_id)
LEFT JOIN _ui_history h USING (user_id);

SELECT n.user_id, n.account_name, s.reasons::VARCHAR AS reasons,
       (SELECT e.detail->'pii_names' FROM user_evidence e
        WHERE e.user_id = n.user_id AND e.as_of = n.as_of AND e.signal = 'profile' LIMIT 1)::VARCHAR AS pii_names
FROM _ui_new n JOIN user_state s USING (user_id)
ORDER BY n.user_id;
