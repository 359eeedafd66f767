-- The actions changed after $since as the page shows them (the detail's scalars, never its bodies),
-- by user and time ($since the epoch: all of them).
-- The detail (an email's whole body) is read once for all eight scalars: ->> per field parses it eight times.
-- reads: actions
-- writes: nothing
-- takes: $since, $outbox
SELECT action_id, user_id, account_id, kind, status, reason, simulation, scope, simulate, run_id, as_of,
       created_at, delivered_at, updated_at, attempts, last_error,
       CASE WHEN starts_with(preview_path, $outbox || '/') THEN substr(preview_path, length($outbox) + 2)
            -- written where the sending worker mounts the outbox: the preview's place inside it
            ELSE nullif(regexp_extract(preview_path, '(?:^|/)((?:email|slack)/[^/]+|holds\.jsonl)$', 1), '') END AS preview,
       d[1] AS subject, d[2] AS channel, d[3] AS tone, d[4] AS category, d[5] AS campaign, d[6] AS step,
       TRY_CAST(d[7] AS BOOLEAN) AS holdout, d[8] AS rewrite
FROM (SELECT *, json_extract_string(detail, ['$.subject', '$.channel', '$.tone', '$.category', '$.campaign', '$.step',
                                             '$.holdout', '$.rewrite']) AS d
      FROM actions
      WHERE updated_at > $since::TIMESTAMPTZ)
ORDER BY user_id, created_at, action_id;
