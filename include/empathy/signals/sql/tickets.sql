-- Support tickets: open (created, no `Support Ticket Resolved` after) with the customer's latest text;
-- resolved tickets are a positive signal. Customer text = author `customer` or no author (not agents).
-- `asks`: the customer's latest text asks for something (a question, "can't find"): a sign of looking.
-- reads: sig_events
-- writes: evidence rows: open_ticket, ticket_resolved (user_id, signal, key, first_at, last_at, count, detail)
-- takes: nothing
WITH msgs AS (
    SELECT user_id, ticket_id, ts, event, subject, text,
           event IN ('Support Ticket Created', 'Support Message Sent') AND coalesce(author, 'customer') NOT IN ('agent', 'support', 'bot', 'system')
               AS by_customer
    FROM sig_events
    WHERE event IN ('Support Ticket Created', 'Support Message Sent', 'Support Ticket Resolved')
      AND ticket_id IS NOT NULL
), tickets AS (
    SELECT user_id, ticket_id,
           min(ts) FILTER (WHERE event = 'Support Ticket Created') AS opened_at,
           max(ts) FILTER (WHERE event = 'Support Ticket Resolved') AS resolved_at,
           max(ts) FILTER (WHERE by_customer) AS last_customer_at,
           arg_max(text, ts) FILTER (WHERE by_customer AND text IS NOT NULL) AS last_customer_text,
           arg_min(subject, ts) FILTER (WHERE subject IS NOT NULL) AS subject,
           count(*) FILTER (WHERE by_customer) AS customer_messages,
           max(ts) AS last_at
    FROM msgs GROUP BY user_id, ticket_id
)
SELECT user_id, 'open_ticket' AS signal, ticket_id AS key,
       coalesce(opened_at, last_customer_at) AS first_at, last_at, customer_messages AS count,
       json_object('ticket_id', ticket_id, 'subject', subject,
                   'latest_customer_text', left(last_customer_text, 280),
                   'asks', asks_for_help(last_customer_text),
                   'customer_messages', customer_messages) AS detail
FROM tickets
WHERE resolved_at IS NULL
UNION ALL
SELECT user_id, 'ticket_resolved', ticket_id, resolved_at, resolved_at, 1,
       json_object('ticket_id', ticket_id, 'subject', subject)
FROM tickets
WHERE resolved_at IS NOT NULL
