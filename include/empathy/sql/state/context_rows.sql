-- Two more kinds of evidence rows, so a scoring batch can be applied later from the table alone:
-- `customer_text` (what the text scorer saw, in order: detail.idx matches UserJudgement.text_scores)
-- and `profile` (account, last event, activity, when the snapshot was taken).
-- Parameters: $as_of, $texts_per_user, $prepared_at. Reads sig_events, _scope_users, events.
INSERT INTO sig_evidence (user_id, signal, key, polarity, weight, first_at, last_at, count, detail)
SELECT user_id, 'customer_text', message_id, 0, 0.0, ts, ts, 1,
       json_object('idx', row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, message_id DESC) - 1,
                   'kind', kind, 'ticket_id', ticket_id, 'text', text)
FROM (
    SELECT user_id, message_id, ts, event AS kind, ticket_id,
           CASE WHEN subject IS NOT NULL AND event = 'Support Ticket Created'
                     AND strpos(lower(coalesce(text, '')), lower(subject)) = 0
                THEN subject || ': ' || coalesce(text, '') ELSE coalesce(text, subject) END AS text
    FROM sig_events
    WHERE event IN ('Support Ticket Created', 'Support Message Sent')
      AND coalesce(author, 'customer') NOT IN ('agent', 'support', 'bot', 'system')
      AND trim(coalesce(text, subject, '')) <> ''
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, message_id DESC) <= $texts_per_user
);

INSERT INTO sig_evidence (user_id, signal, key, polarity, weight, first_at, last_at, count, detail)
WITH activity AS (
    SELECT user_id, count(*) AS events, count(DISTINCT session_no) FILTER (WHERE is_activity) AS sessions,
           count(*) FILTER (WHERE event = 'Command Executed') AS commands,
           count(*) FILTER (WHERE event = 'API Request' AND status_code < 400) AS api_ok,
           min(ts) AS first_at
    FROM sig_events GROUP BY user_id
), latest AS (
    SELECT user_id, max(ts) AS last_event_at,
           arg_max(group_id, ts) FILTER (WHERE type = 'group' AND group_id IS NOT NULL) AS account_id,
           list(DISTINCT traits->>'name') FILTER (WHERE type = 'identify' AND traits->>'name' IS NOT NULL) AS names
    FROM events SEMI JOIN _scope_users USING (user_id)
    WHERE ts <= $as_of
    GROUP BY user_id
)
SELECT u.user_id, 'profile', 'profile', 0, 0.0, a.first_at, l.last_event_at, coalesce(a.events, 0),
       json_object('account_id', l.account_id, 'names', coalesce(l.names, []),
                   'last_event_at', l.last_event_at, 'events', coalesce(a.events, 0),
                   'sessions', coalesce(a.sessions, 0), 'commands', coalesce(a.commands, 0),
                   'api_ok', coalesce(a.api_ok, 0), 'prepared_at', $prepared_at)
FROM _scope_users u
LEFT JOIN activity a USING (user_id)
LEFT JOIN latest l USING (user_id);
