-- Each enrolled user's journey as the uplift reads it: when they enrolled (their first `Signed Up` or
-- `Trial Started`) and when they last cancelled, paid, wrote to support or clicked an email link. Only
-- events ingested since the last refresh are read; they are merged into the previous journeys.
-- reads: usable_events, _ui_prev_journeys (view: the previous version's journeys)
-- writes: nothing
-- takes: $events_mark
WITH new AS (
    SELECT user_id,
           min(ts) FILTER (WHERE event IN ('Signed Up', 'Trial Started')) AS enrolled_at,
           max(ts) FILTER (WHERE event = 'Subscription Cancelled') AS cancelled_at,
           max(ts) FILTER (WHERE event = 'Payment Succeeded') AS paid_at,
           max(ts) FILTER (WHERE event IN ('Support Message Sent', 'Support Ticket Created')
                           AND coalesce(properties->>'author', 'customer') = 'customer') AS replied_at,
           max(ts) FILTER (WHERE event = 'Email Link Clicked') AS clicked_at
    FROM usable_events
    WHERE ingested_at > $events_mark::TIMESTAMPTZ AND type = 'track'
      AND event IN ('Signed Up', 'Trial Started', 'Subscription Cancelled', 'Payment Succeeded', 'Support Message Sent',
                    'Support Ticket Created', 'Email Link Clicked')
    GROUP BY user_id
)
SELECT coalesce(n.user_id, p.user_id) AS user_id,
       least(n.enrolled_at, p.enrolled_at) AS enrolled_at, greatest(n.cancelled_at, p.cancelled_at) AS cancelled_at,
       greatest(n.paid_at, p.paid_at) AS paid_at, greatest(n.replied_at, p.replied_at) AS replied_at,
       greatest(n.clicked_at, p.clicked_at) AS clicked_at
FROM new n FULL OUTER JOIN _ui_prev_journeys p USING (user_id)
ORDER BY user_id;
