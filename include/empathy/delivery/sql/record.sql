-- Write delivery outcomes. Only in-flight rows change: a row already 'sent' (or otherwise settled) is
-- never changed back. A real row simulated because its channel has no connection says so; an email keeps
-- what the send step sent (its text after any LLM rewrite, and the rewrite's note).
-- Two statements: `detail` (an email's whole body) is written only for the outcomes that patch it; in
-- one statement every row's detail was rewritten, unchanged, at ~3x the cost of the rest of the update.
-- reads: delivery_outcomes
-- writes: actions
-- takes: nothing
UPDATE actions
SET detail = json_merge_patch(actions.detail, o.detail_patch::JSON)
FROM delivery_outcomes AS o
WHERE actions.action_id = o.action_id
  AND o.detail_patch IS NOT NULL
  AND actions.status IN ('pending', 'failed')
  AND o.status IN ('sent', 'simulated', 'failed', 'skipped');

UPDATE actions
SET status = o.status,
    provider_id = coalesce(o.provider_id, actions.provider_id),
    preview_path = coalesce(o.preview_path, actions.preview_path),
    last_error = o.error,
    simulation = CASE WHEN o.status = 'simulated' AND NOT actions.simulate THEN 'no connection' ELSE actions.simulation END,
    delivered_at = CASE WHEN o.status IN ('sent', 'simulated') THEN now() ELSE actions.delivered_at END,
    updated_at = now()
FROM delivery_outcomes AS o
WHERE actions.action_id = o.action_id
  AND actions.status IN ('pending', 'failed')
  AND o.status IN ('sent', 'simulated', 'failed', 'skipped');
