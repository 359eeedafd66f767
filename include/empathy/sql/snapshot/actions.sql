-- The latest decisions (the outbox), newest first, with what a person needs to judge them.
SELECT action_id, user_id, account_id, kind, status, reason,
       detail->>'subject' AS subject, detail->>'channel' AS channel, detail->>'tone' AS tone,
       detail->>'category' AS category, simulate, attempts, last_error, preview_path, run_id,
       created_at, delivered_at
FROM actions
ORDER BY created_at DESC, action_id
LIMIT $limit;
