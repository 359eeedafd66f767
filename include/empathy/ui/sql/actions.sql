-- One week of actions as the page shows them (the detail's scalars, never its bodies), by user and time.
-- reads: actions
-- writes: nothing
-- takes: $part, $outbox
SELECT action_id, user_id, account_id, kind, status, reason, simulation, scope, simulate, run_id, as_of,
       created_at, delivered_at, updated_at, attempts, last_error,
       CASE WHEN starts_with(preview_path, $outbox || '/') THEN substr(preview_path, length($outbox) + 2)
            -- written where the sending worker mounts the outbox: the preview's place inside it
            ELSE nullif(regexp_extract(preview_path, '(?:^|/)((?:email|slack)/[^/]+|holds\.jsonl)$', 1), '') END AS preview,
       detail->>'subject' AS subject, detail->>'channel' AS channel, detail->>'tone' AS tone,
       detail->>'category' AS category, detail->>'campaign' AS campaign, detail->>'step' AS step,
       TRY_CAST(detail->>'holdout' AS BOOLEAN) AS holdout, detail->>'rewrite' AS rewrite
FROM actions
WHERE strftime(date_trunc('week', created_at), '%Y-%m-%d') = $part
ORDER BY user_id, created_at, action_id;
