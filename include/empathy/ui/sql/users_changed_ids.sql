-- Who must be rendered again: users whose fingerprint (their state row and their account) differs from
-- the previous users file's, or who have state history recorded since the last refresh.
-- reads: accounts, user_state, _ui_prev_users (view: the previous version's users), user_state_history
-- writes: _ui_accounts, _ui_changed (temp), _ui_fp (temp macro: the fingerprint of one user's row)
-- takes: $history_mark
CREATE OR REPLACE TEMP MACRO _ui_fp(s, account_fp) AS
    hash(s.user_id, s.account_id, s.state, s.sentiment, s.confidence, s.intents, s.on_hold, s.scorer, s.as_of,
         s.updated_at, s.last_event_at, s.run_id, account_fp);

CREATE OR REPLACE TEMP TABLE _ui_accounts AS
SELECT account_id, name, mrr, account_manager_slack_id, hash(account_id, name, mrr, account_manager_slack_id) AS account_fp
FROM accounts;

CREATE OR REPLACE TEMP TABLE _ui_changed AS
SELECT s.user_id
FROM user_state s LEFT JOIN _ui_accounts a USING (account_id)
ANTI JOIN _ui_prev_users p
    ON p.user_id = s.user_id
   AND p.fp = _ui_fp(s, a.account_fp)
UNION
SELECT DISTINCT h.user_id FROM user_state_history h SEMI JOIN user_state s USING (user_id)
WHERE h.recorded_at > $history_mark::TIMESTAMPTZ;
