-- Write one window's decisions: the outbox rows (holds, releases, alerts, emails; ids deterministic, a
-- decision made before is not written again), what was considered and not done (decision_log), the
-- decided window (decision_points), and for real runs user_state.on_hold from the latest hold or release.
-- reads: _pol_holds, _pol_alerts, _pol_drips, _rendered (alert and email content made in Python)
-- writes: actions, decision_log, decision_points, user_state
-- takes: $as_of, $scope, $simulate, $simulation, $run_id, $now, $users, $params
INSERT INTO actions (action_id, user_id, account_id, kind, status, reason, detail, created_at, as_of, run_id,
                     simulate, scope, simulation, updated_at)
SELECT action_id, user_id, account_id, kind, status, reason, detail, $now, $as_of, $run_id, $simulate, $scope,
       $simulation, $now
FROM (
    SELECT action_id, user_id, account_id, kind, 'pending' AS status, reason,
           json_object('state', state, 'hold_since', hold_since, 'to_email', email, 'run_id', $run_id) AS detail
    FROM _pol_holds WHERE outcome = 'decided'
    UNION ALL
    SELECT action_id, user_id, account_id, 'email', 'skipped', outcome_reason,
           json_object('campaign', campaign, 'step', step, 'category', use_category, 'template', use_template,
                       'holdout', holdout, 'due_at', due_at, 'state', state, 'subject', NULL, 'run_id', $run_id)
    FROM _pol_drips WHERE outcome = 'skip'
    UNION ALL
    SELECT action_id, user_id, account_id, kind, status, reason, detail::JSON FROM _rendered
)
ON CONFLICT (action_id) DO NOTHING;

DELETE FROM decision_log WHERE scope = $scope AND as_of = $as_of AND run_id IS NOT DISTINCT FROM $run_id;

INSERT INTO decision_log (run_id, scope, as_of, user_id, account_id, kind, outcome, reason, detail, logged_at)
SELECT $run_id, $scope, $as_of, user_id, account_id, 'release', 'kept', reason, NULL, $now
FROM _pol_holds WHERE outcome = 'kept'
UNION ALL
SELECT $run_id, $scope, $as_of, user_id, account_id, 'slack_alert', 'not sent', reason,
       json_object('members', members, 'mrr', mrr), $now
FROM _pol_alerts WHERE outcome = 'not sent'
UNION ALL
SELECT $run_id, $scope, $as_of, user_id, account_id, 'email', 'deferred', outcome_reason,
       json_object('campaign', campaign, 'step', step, 'due_at', due_at, 'category', use_category), $now
FROM _pol_drips WHERE outcome = 'defer';

INSERT OR REPLACE INTO decision_points (scope, as_of, run_id, users, params, decided_at)
VALUES ($scope, $as_of, $run_id, $users, $params, $now);

-- the history row of the state that caused a hold or release shows it too (real runs)
UPDATE user_state_history AS h SET on_hold = (i.kind = 'hold')
FROM (SELECT p.user_id, p.kind, max(s.as_of) AS as_of
      FROM _pol_holds p JOIN user_state_history s ON s.user_id = p.user_id AND s.as_of <= $as_of
      WHERE p.outcome = 'decided' GROUP BY ALL) AS i
WHERE $scope = '' AND h.user_id = i.user_id AND h.as_of = i.as_of;

-- user_state.on_hold shows the real truth: the latest real hold or release (simulations change nothing)
UPDATE user_state AS s SET on_hold = h.on_hold
FROM (SELECT u.user_id, coalesce(p.on_hold, false) AS on_hold
      FROM user_state u LEFT JOIN policy_holds p USING (user_id)) AS h
WHERE $scope = '' AND s.user_id = h.user_id AND s.on_hold IS DISTINCT FROM h.on_hold;
