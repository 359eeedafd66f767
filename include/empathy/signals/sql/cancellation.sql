-- Signals of leaving in the product: visits to cancel pages (/cancel, /account/cancel, "Cancel
-- subscription" pages) and `Subscription Cancelled`.
-- reads: sig_events
-- writes: evidence rows: cancel_page, subscription_cancelled (user_id, signal, key, first_at, last_at, count, detail)
-- takes: nothing
SELECT user_id, 'cancel_page' AS signal, coalesce(path, name) AS key,
       min(ts) AS first_at, max(ts) AS last_at, count(*) AS count,
       json_object('path', coalesce(path, name), 'visits', count(*)) AS detail
FROM sig_events
WHERE type IN ('page', 'screen')
  AND (regexp_matches(lower(coalesce(path, '')), '(^|/)(cancel|cancellation|cancel[-_]subscription|close[-_]account)(/|$|\?|#)')
       OR regexp_matches(lower(coalesce(name, '')), 'cancel'))
GROUP BY user_id, coalesce(path, name)
UNION ALL
SELECT user_id, 'subscription_cancelled', 'cancelled', min(ts), max(ts), count(*),
       json_object('plan', arg_max(plan, ts), 'reason', arg_max(reason, ts))
FROM sig_events WHERE event = 'Subscription Cancelled'
GROUP BY user_id
