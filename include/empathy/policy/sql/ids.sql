-- Every decision of the window gets its deterministic action id (the same decision, the same id).
-- reads: _pol_holds, _pol_alerts, _pol_drips
-- writes: _pol_holds, _pol_alerts, _pol_drips (an action_id column each)
-- takes: $as_of, $scope
CREATE OR REPLACE TEMP TABLE _pol_holds AS
SELECT *, action_key(CASE kind WHEN 'hold' THEN 'hold|' || user_id || '|' || strftime($as_of::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%S.%f')
                               ELSE 'release|' || user_id || '|' || strftime(hold_since, '%Y-%m-%dT%H:%M:%S.%f') END,
                  $scope) AS action_id
FROM _pol_holds;

CREATE OR REPLACE TEMP TABLE _pol_alerts AS
SELECT *, action_key('slack_alert|' || account_id || '|' || strftime($as_of::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%S.%f'), $scope) AS action_id
FROM _pol_alerts;

CREATE OR REPLACE TEMP TABLE _pol_drips AS
SELECT *, action_key('email|' || user_id || '|' || campaign || '|' || step, $scope) AS action_id
FROM _pol_drips;
