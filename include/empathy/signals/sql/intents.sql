-- Intents: what the user is trying to do, from their searches, the pages they open and what they
-- write to support. One row per (intent, source) with examples, so the state can tell a cancel-page
-- visit (source `page`) from someone who writes or searches "cancel" (source `search`/`ticket`).
-- A cancel page says cancellation only: the billing words in its path (/billing/cancel) do not explain it.
-- reads: sig_events
-- writes: evidence rows: intent (user_id, signal, key, first_at, last_at, count, detail)
-- takes: nothing
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
), plain AS (
    -- what a search or ticket says about cancelling once the sentences that do not ask for it are out:
    -- "I don't want to cancel", "do I need to cancel the monthly one first?", a sentence naming a button
    -- ("the only button I see is Cancel subscription"), a quoted label ("I only see 'Cancel plan'"), a
    -- menu read out ("change plan, cancel plan") and a thing's parts ("the account menu", "the end of the subscription term")
    -- are no request to end anything
    SELECT *, regexp_replace(regexp_replace(regexp_replace(t,
               '\b(don''?t|do not|doesn''?t|does not|not|never|no need to|no intention to|without)\s+(really\s+)?(want(ing)?|going|plan(ning)?|need(ing)?|decided|intend(ing)?|trying|looking|wish(ing)?)?\s*(to\s+)?(cancel|leave|quit|churn|close|end)\w*', ' ', 'g'),
               '\b(do|does|would|will|must|should) (i|we|you) (have|need) to (cancel|close|end|stop)\w*|[^.?!]*\b(button|link|option)s?\b[^.?!]*|(^|\s)[''"“‘][^''"“”‘’]{1,40}[''"”’]|\b(change|upgrade|downgrade|switch|manage|pause) (plan|subscription)s?\s*(,|/|and|or)\s*(and |or )?(cancel|end) (plan|subscription)s?\b|\b(cancel|end) (plan|subscription)s?\s*(,|/|and|or)\s*(and |or )?(change|upgrade|downgrade|switch|manage|pause) (plan|subscription)s?\b|\b(see|saw|seeing|only) (the |a )?(cancel|close|delete)\w*', ' ', 'g'),
               '\b(subscription|account|plan|contract|membership|service)\s+(menu|tab|page|settings|section|dropdown|panel|window|details|overview|icon|button|screen|view|term|period|type|name|number|id|owner|level|history|invoices?|dates?)\b', ' ui ', 'g') AS said_plainly
    FROM said
), matched AS (  -- constant patterns: each regex is compiled once, not per row
    SELECT user_id, ts, source, example,
           regexp_matches(t, '\bsoc[ -]?2\b|\bsoc[ -]?ii\b|security[ -]white ?paper|trust[ -]?(center|centre|portal)|\bdpa\b|data processing (agreement|addendum)|\bpen[ -]?test|penetration test|\bgdpr\b|\biso[ -]?27001\b|\bhipaa\b|security (questionnaire|review|audit|policy|overview)|vendor (security|risk)|/security\b|/trust\b|subprocessors?')
               AND NOT (source = 'page' AND regexp_matches(t, '\bcancel|close[-_]account'))
               AS security_review,
           regexp_matches(t, 'invoice|billing|receipt|payment|update (my )?card|credit card|card (was )?declined|charged|\bvat\b|tax id|/billing\b|/invoices?\b|/payments?\b')
               AND NOT (source = 'page' AND regexp_matches(t, '\bcancel|close[-_]account'))
               AS billing,
           -- a page says cancel by its path; a search or a ticket must ask to end the subscription or account
           -- ("cancel the duplicate charge" is billing, not leaving)
           CASE WHEN source = 'page' THEN regexp_matches(t, '\bcancel|close[-_]account')
                ELSE regexp_matches(said_plainly, '\b(cancel(l?ing)?|terminat(e|ing)|end(ing)?|stop(ping)?|close|closing|delete|deleting)\s+(my |our |the |this )?(subscription|account|plan|contract|membership|service|renewal|auto-?renewal|licen[cs]e)\b|\b(decided|going|plan(ning)?) not to (continue|renew|extend)|\b(turn(ing)? off|disabl(e|ing)|stop(ping)?) (the |my |our )?(auto-?renew(al)?|auto renew(al)?|renewal)|\bleaving (the|your|this) (platform|product|service|app|tool)|\bwinding down\b|\b(won''?t|will not|do not|don''?t|shall not) (be )?(continu|renew|extend)\w*|\b(cancell?ation|termination)\s+(of\s+)?(my |our |the |this )?(subscription|account|plan|contract|membership|service)\b|\b(want|going|plan(ning)?|need|decided|like|about) to (cancel|leave|quit|churn)\b|\bhow (do|can|to) (i |we )?cancel\b|\b(we|i)(''ll| will| are going to| am going to) (cancel|leave)\b|(leaving|switch(ing)?|moving|migrat(e|ing)) to (a |an )?(competitor|(another|other|different|a new) (tool|provider|vendor|service|product|company|platform|solution|app|supplier)s?)\b|\bunsubscribe (me|us) from (the )?(service|product)\b|^\s*(cancel|cancellation|cancel plan|cancel subscription)\s*$')
           END AS cancellation
    FROM plain
), hits AS (
    UNPIVOT matched ON security_review, billing, cancellation INTO NAME intent VALUE hit
)
SELECT user_id, 'intent' AS signal, intent || ':' || source AS key,
       min(ts) AS first_at, max(ts) AS last_at, count(*) AS count,
       json_object('intent', intent, 'source', source,
                   'examples', (list(DISTINCT example ORDER BY example) FILTER (WHERE example IS NOT NULL))[1:3]) AS detail
FROM hits
WHERE hit
GROUP BY user_id, intent, source
