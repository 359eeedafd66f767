-- Intents: what the user is trying to do, from their searches, the pages they open and what they
-- write to support. One row per (intent, source) with examples, so the state can tell a cancel-page
-- visit (source `page`) from someone who writes or searches "cancel" (source `search`/`ticket`).
WITH said AS (
    SELECT user_id, ts, 'search' AS source, lower(query) AS t, query AS example
    FROM sig_events WHERE event = 'Search Performed' AND query IS NOT NULL
    UNION ALL
    SELECT user_id, ts, 'page', lower(coalesce(path, '') || ' ' || coalesce(name, '')), coalesce(path, name)
    FROM sig_events WHERE type IN ('page', 'screen')
    UNION ALL
    SELECT user_id, ts, 'ticket', lower(coalesce(subject, '') || ' ' || coalesce(text, '')),
           left(coalesce(subject, text), 120)
    FROM sig_events
    WHERE event IN ('Support Ticket Created', 'Support Message Sent') AND coalesce(author, 'customer') NOT IN ('agent', 'support', 'bot', 'system')
), matched AS (  -- constant patterns: each regex is compiled once, not per row
    SELECT user_id, ts, source, example,
           regexp_matches(t, '\bsoc[ -]?2\b|\bsoc[ -]?ii\b|security[ -]white ?paper|trust[ -]?(center|centre|portal)|\bdpa\b|data processing (agreement|addendum)|\bpen[ -]?test|penetration test|\bgdpr\b|\biso[ -]?27001\b|\bhipaa\b|security (questionnaire|review|audit|policy|overview)|vendor (security|risk)|/security\b|/trust\b|subprocessors?')
               AS security_review,
           regexp_matches(t, 'invoice|billing|receipt|payment|update (my )?card|credit card|card (was )?declined|charged|\bvat\b|tax id|/billing\b|/invoices?\b|/payments?\b')
               AS billing,
           regexp_matches(t, '\bcancel|close (my |our |the )?account|delete (my |our )?account|terminate|end (my |our )?(subscription|contract|plan)|stop (my |our )?(subscription|plan)|(leaving|switch(ing)?) to (a )?(competitor|another)|/close[-_]account')
               AS cancellation
    FROM said
), hits AS (
    UNPIVOT matched ON security_review, billing, cancellation INTO NAME intent VALUE hit
)
SELECT user_id, 'intent' AS signal, intent || ':' || source AS key, 0 AS polarity, 0.0 AS weight,
       min(ts) AS first_at, max(ts) AS last_at, count(*) AS count,
       json_object('intent', intent, 'source', source,
                   'examples', (list(DISTINCT example) FILTER (WHERE example IS NOT NULL))[1:3]) AS detail
FROM hits
WHERE hit
GROUP BY user_id, intent, source
