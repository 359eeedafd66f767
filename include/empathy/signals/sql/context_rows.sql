-- What the text scorer sees and who the user is: the latest customer texts (newest first; `idx` matches
-- UserJudgement.text_scores) into sig_texts, and one profile row per user (account, the names and email
-- to redact, activity) into sig_profile. Customer text = author `customer` or no author (never agents).
-- reads: sig_events, _scope_users, usable_events
-- writes: sig_texts, sig_profile (temp)
-- takes: $as_of, $texts_per_user
CREATE OR REPLACE TEMP TABLE sig_texts AS
SELECT user_id, (row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, message_id DESC) - 1)::INTEGER AS idx,
       message_id, ts, kind, ticket_id, text, asks_for_help(text) AS asks
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

CREATE OR REPLACE TEMP TABLE sig_profile AS
WITH activity AS (
    SELECT user_id, count(*) AS events, count(DISTINCT session_no) FILTER (WHERE is_activity) AS sessions,
           count(*) FILTER (WHERE event = 'Command Executed') AS commands,
           count(*) FILTER (WHERE event = 'API Request' AND status_code < 400) AS api_ok,
           min(ts) AS first_at
    FROM sig_events GROUP BY user_id
), latest AS (
    SELECT user_id, max(ts) AS last_event_at,
           arg_max(group_id, ts) FILTER (WHERE type = 'group' AND group_id IS NOT NULL) AS account_id
    FROM usable_events SEMI JOIN _scope_users USING (user_id)
    WHERE ts <= $as_of
    GROUP BY user_id
), names AS (  -- the user's own identify traits: redacted from everything that leaves
    SELECT user_id, list(DISTINCT v ORDER BY v) FILTER (WHERE v IS NOT NULL) AS pii_names
    FROM (SELECT user_id, unnest([traits->>'name', traits->>'firstName', traits->>'lastName',
                                  traits->>'first_name', traits->>'last_name', traits->>'email']) AS v
          FROM usable_events SEMI JOIN _scope_users USING (user_id)
          WHERE type = 'identify' AND ts <= $as_of)
    GROUP BY user_id
)
SELECT u.user_id, l.account_id, coalesce(n.pii_names, []) AS pii_names, a.first_at, l.last_event_at,
       coalesce(a.events, 0) AS events, coalesce(a.sessions, 0) AS sessions,
       coalesce(a.commands, 0) AS commands, coalesce(a.api_ok, 0) AS api_ok
FROM _scope_users u
LEFT JOIN activity a USING (user_id)
LEFT JOIN latest l USING (user_id)
LEFT JOIN names n USING (user_id);
