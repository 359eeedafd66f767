-- What customers wrote to support (ticket openings and their own messages, never agents'), latest
-- first, at most $texts_per_user per user: the text scorers read these.
SELECT user_id, message_id, ts, event AS kind, ticket_id,
       CASE WHEN subject IS NOT NULL AND event = 'Support Ticket Created' AND coalesce(text, '') NOT ILIKE '%' || subject || '%'
            THEN subject || ': ' || coalesce(text, '') ELSE coalesce(text, subject) END AS text
FROM sig_events
WHERE event IN ('Support Ticket Created', 'Support Message Sent')
  AND coalesce(author, 'customer') NOT IN ('agent', 'support', 'bot', 'system')
  AND coalesce(text, subject) IS NOT NULL AND trim(coalesce(text, subject)) <> ''
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, message_id DESC) <= $texts_per_user
ORDER BY user_id, ts DESC, message_id DESC
