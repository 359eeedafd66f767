-- Concierge alerts: a negative user (frustrated or at_risk, scored now or on hold) on an account with
-- mrr >= $high_value_mrr alerts the account's manager in Slack, one alert per account per
-- $alert_cooldown_h hours unless it gets worse (a worse state, or a new kind of evidence). The account's
-- worst user is the one the alert is about; the others are listed. Real runs count alerts on both sides
-- of the window (a newer window already alerted); a simulation counts the ones before it.
-- reads: _pol_users, _pol_ev, _seen, _pol_holds
-- writes: _pol_alerts (temp: alerts to write, and alerts not sent with why)
-- takes: $as_of, $scope, $high_value_mrr, $alert_cooldown_h
CREATE OR REPLACE TEMP TABLE _pol_alerts AS
WITH candidates AS (
    SELECT u.*, CASE u.state WHEN 'at_risk' THEN 2 ELSE 1 END AS severity,
           (SELECT list(DISTINCT e.signal ORDER BY e.signal) FROM _pol_ev e
             WHERE e.user_id = u.user_id AND e.polarity < 0 AND e.signal <> 'state') AS kinds
    FROM _pol_users u
    WHERE u.state IN ('frustrated', 'at_risk') AND u.account_id IS NOT NULL
      AND (u.scored_now OR u.on_hold OR u.user_id IN (SELECT user_id FROM _pol_holds WHERE kind = 'hold'))
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY severity DESC, confidence DESC NULLS LAST, user_id) AS rank,
           list(user_id) OVER (PARTITION BY account_id ORDER BY severity DESC, confidence DESC NULLS LAST, user_id
                               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS members,
           list_distinct(flatten(list(coalesce(kinds, [])) OVER (PARTITION BY account_id))) AS account_kinds
    FROM candidates
), prior AS (
    SELECT account_id, max(TRY_CAST(detail->>'severity' AS INTEGER)) AS severity,
           list_distinct(flatten(list(from_json(detail->'evidence_kinds', '["VARCHAR"]')))) AS kinds,
           max(as_of) AS last_at
    FROM _seen
    WHERE kind = 'slack_alert' AND status <> 'skipped' AND account_id IS NOT NULL
      AND as_of > $as_of - to_seconds(CAST($alert_cooldown_h * 3600 AS BIGINT))
      AND ($scope <> '' OR as_of < $as_of + to_seconds(CAST($alert_cooldown_h * 3600 AS BIGINT)))
    GROUP BY account_id
)
SELECT r.user_id, r.account_id, r.state, r.confidence, r.severity, r.members, list_sort(r.account_kinds) AS kinds,
       r.account_name, r.mrr, r.manager,
       CASE WHEN r.mrr IS NULL OR r.mrr < $high_value_mrr THEN 'not sent'
            WHEN p.account_id IS NOT NULL AND r.severity <= p.severity
                 AND len(list_filter(r.account_kinds, lambda k: NOT list_contains(p.kinds, k))) = 0 THEN 'not sent'
            ELSE 'decided' END AS outcome,
       CASE WHEN r.mrr IS NULL OR r.mrr < $high_value_mrr
            THEN 'no alert: not a high-value account (mrr ' || coalesce(printf('%g', r.mrr), 'unknown') || ' < ' || printf('%g', $high_value_mrr) || ')'
            WHEN p.account_id IS NOT NULL AND r.severity <= p.severity
                 AND len(list_filter(r.account_kinds, lambda k: NOT list_contains(p.kinds, k))) = 0
            THEN 'no alert: the account manager was alerted ' ||
                 CASE WHEN p.last_at > $as_of THEN 'for a later window'
                      WHEN epoch($as_of) - epoch(p.last_at) < 3600 THEN 'less than an hour ago'
                      ELSE round((epoch($as_of) - epoch(p.last_at)) / 3600)::BIGINT || ' h ago' END
                 || ' (one alert per ' || printf('%g', $alert_cooldown_h) || ' h unless it gets worse)'
            WHEN p.account_id IS NOT NULL AND r.severity > p.severity
            THEN 'concierge: worse, now ' || r.state || ' (alerted as ' || CASE p.severity WHEN 1 THEN 'frustrated' ELSE 'at_risk' END
                 || ' ' || round((epoch($as_of) - epoch(p.last_at)) / 3600)::BIGINT || ' h ago)'
            WHEN p.account_id IS NOT NULL
            THEN 'concierge: worse, new evidence (' || array_to_string(list_filter(r.account_kinds, lambda k: NOT list_contains(p.kinds, k)), ', ') || ')'
            ELSE 'concierge: ' || r.state || ' on a high-value account (mrr ' || printf('%g', r.mrr) || ' >= ' || printf('%g', $high_value_mrr) || ')'
       END AS reason
FROM ranked r LEFT JOIN prior p USING (account_id)
WHERE r.rank = 1;
