-- Holds and releases take effect when they are decided (user_state.on_hold follows the actions); what is
-- left is to mark them applied, all at once: no per-run cap, a backlog of holds would be users not held.
-- Real ones wait for the sending step instead when SendGrid mirrors holds in a suppression group.
-- (Through a temp table, not UPDATE ... RETURNING, which reads far more than it returns.)
-- reads: actions
-- writes: actions, _applying
-- takes: $scope, $mirrored, $preview
CREATE OR REPLACE TEMP TABLE _applying AS
SELECT action_id, kind, user_id, account_id, reason, as_of, run_id, simulate
FROM actions
WHERE kind IN ('hold', 'release') AND status = 'pending' AND attempts = 0 AND scope = $scope
  AND (simulate OR NOT $mirrored);

UPDATE actions
SET status = CASE WHEN simulate THEN 'simulated' ELSE 'sent' END, attempts = attempts + 1,
    delivered_at = now(), updated_at = now(), preview_path = $preview
WHERE action_id IN (SELECT action_id FROM _applying);

SELECT action_id, kind, user_id, account_id, reason, as_of, run_id, simulate FROM _applying;
