-- Holdout versus treatment per week of enrolment: how many enrolled users each group has, and how many of
-- them since enrolment cancelled, paid, wrote to support (replied), clicked an email link, were ever
-- frustrated or at_risk (troubled), and of those, are no longer (recovered). A user's group is what their
-- real drip emails recorded (detail.holdout), else the holdout rule with the deployment's share.
-- reads: _ui_journeys, _ui_users, _ui_actions (views over this version's read model files)
-- writes: nothing
-- takes: $holdout_salt, $holdout_pct
WITH recorded AS (
    SELECT user_id, bool_or(holdout) AS holdout FROM _ui_actions
    WHERE kind = 'email' AND scope = '' AND holdout IS NOT NULL GROUP BY user_id
), users AS (
    SELECT j.user_id, date_trunc('week', j.enrolled_at)::DATE AS cohort,
           coalesce(r.holdout, in_holdout(j.user_id, $holdout_salt, $holdout_pct)) AS holdout,
           coalesce(j.cancelled_at >= j.enrolled_at, false) AS cancelled, coalesce(j.paid_at >= j.enrolled_at, false) AS paid,
           coalesce(j.replied_at >= j.enrolled_at, false) AS replied, coalesce(j.clicked_at >= j.enrolled_at, false) AS clicked,
           coalesce((u.state IN ('frustrated', 'at_risk') AND u.as_of >= j.enrolled_at)
                    OR len(list_filter(u.history, lambda h: h.state IN ('frustrated', 'at_risk') AND h.as_of >= j.enrolled_at)) > 0,
                    false) AS troubled,
           u.state
    FROM _ui_journeys j
    LEFT JOIN recorded r USING (user_id)
    LEFT JOIN _ui_users u USING (user_id)
    WHERE j.enrolled_at IS NOT NULL
)
SELECT cohort, holdout, count(*) AS users,
       count(*) FILTER (WHERE troubled) AS troubled,
       count(*) FILTER (WHERE troubled AND state NOT IN ('frustrated', 'at_risk')) AS recovered,
       count(*) FILTER (WHERE cancelled) AS cancelled, count(*) FILTER (WHERE paid) AS paid,
       count(*) FILTER (WHERE replied) AS replied, count(*) FILTER (WHERE clicked) AS clicked
FROM users
GROUP BY ALL
ORDER BY cohort, holdout;
