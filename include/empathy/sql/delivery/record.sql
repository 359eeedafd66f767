-- Write delivery outcomes (registered as relation delivery_outcomes). Only in-flight rows change:
-- a row already 'sent' (or otherwise settled) is never changed back.
UPDATE actions
SET status = o.status,
    provider_id = coalesce(o.provider_id, actions.provider_id),
    preview_path = coalesce(o.preview_path, actions.preview_path),
    last_error = o.error,
    delivered_at = CASE WHEN o.status IN ('sent', 'simulated') THEN now() ELSE actions.delivered_at END,
    updated_at = now()
FROM delivery_outcomes AS o
WHERE actions.action_id = o.action_id
  AND actions.status IN ('pending', 'failed')
  AND o.status IN ('sent', 'simulated', 'failed', 'skipped');
