-- Billing trouble: `Payment Failed` not followed by a `Payment Succeeded` (any later success settles
-- the earlier failures: the card works again). Settled failures are a positive recovery.
-- reads: sig_events
-- writes: evidence rows: payment_failed, payment_recovered (user_id, signal, key, first_at, last_at, count, detail)
-- takes: nothing
WITH payments AS (
    SELECT user_id, ts, event, invoice_id, amount, currency, reason,
           max(ts) FILTER (WHERE event = 'Payment Succeeded') OVER (PARTITION BY user_id) AS last_success_at
    FROM sig_events
    WHERE event IN ('Payment Failed', 'Payment Succeeded')
)
SELECT user_id, 'payment_failed' AS signal, 'unsettled' AS key,
       min(ts) AS first_at, max(ts) AS last_at, count(*) AS count,
       json_object('failures', count(*), 'invoices', list(DISTINCT invoice_id ORDER BY invoice_id) FILTER (WHERE invoice_id IS NOT NULL),
                   'amount', arg_max(amount, ts), 'currency', arg_max(currency, ts),
                   'reason', arg_max(reason, ts)) AS detail
FROM payments
WHERE event = 'Payment Failed' AND (last_success_at IS NULL OR ts > last_success_at)
GROUP BY user_id
UNION ALL
SELECT user_id, 'payment_recovered', 'settled',
       max(last_success_at), max(last_success_at), count(*),
       json_object('failures_settled', count(*))
FROM payments
WHERE event = 'Payment Failed' AND ts < last_success_at
GROUP BY user_id
