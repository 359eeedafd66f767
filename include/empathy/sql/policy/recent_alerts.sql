-- Concierge alerts already decided per account within the cooldown window ($since, $as_of]:
-- the worst state they reported and the kinds of evidence they showed ("unless it gets worse").
SELECT account_id,
       max(TRY_CAST(detail->>'severity' AS INTEGER)) AS severity,
       list(detail->>'evidence_kinds') AS kinds_json
FROM actions
WHERE kind = 'slack_alert' AND status <> 'skipped' AND account_id IS NOT NULL
  AND as_of > $since AND as_of <= $as_of
  AND (NOT simulate OR sim_key = $sim_key)
GROUP BY account_id
