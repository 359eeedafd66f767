-- The state rules (docs/states.md), for every judged user of a run at once: behavioural evidence and
-- the text judgement -> state, sentiment, confidence, intents and the reasons that produced them.
-- Behaviour sets a floor: a text judgement (lexicon or LLM) may make a state worse or explain it,
-- never clear a frustration or leaving signal. First matching rule wins: at_risk (signs of leaving),
-- frustrated, confused, delighted, exploring.
-- reads: user_evidence, _judged (user_id, sentiment, confidence, intents, friction, scorer, context_hash,
--        fallback, text_scores)
-- writes: _ev, _texts, _facts, _decided (temp)
-- takes: $as_of, $ticket_stale_s, $half_life_h, $neutral_band, $delighted_text,
--        $text_weight, $prior_weight
CREATE OR REPLACE TEMP TABLE _ev AS
SELECT e.* FROM user_evidence e SEMI JOIN _judged j USING (user_id) WHERE e.as_of = $as_of;

-- The customer's texts with their scores (idx 0 = latest). Negative and positive exactly where the
-- scorer's labels are; a text that asks for something and does not complain is a sign of looking, and so
-- is any text about documents a customer looks for (an invoice, a receipt) that is short with us
-- ("still no invoice!!", "the invoice download does not work") but not angry at us.
CREATE OR REPLACE TEMP TABLE _texts AS
SELECT *, score <= -$neutral_band AS neg, score >= $neutral_band AS pos,
       (asks AND NOT complains(text)) OR (looks_for_documents(text) AND NOT complains_strongly(text)) AS looking
FROM (
    SELECT t.user_id, t.key AS message_id, t.last_at AS seen_at, (t.detail->>'idx')::INTEGER AS idx,
           t.detail->>'kind' AS kind, t.detail->>'ticket_id' AS ticket_id, t.detail->>'text' AS text,
           coalesce((t.detail->>'asks')::BOOLEAN, false) AS asks,
           greatest(-1.0, least(1.0, coalesce(j.text_scores[(t.detail->>'idx')::INTEGER + 1], j.sentiment, 0.0))) AS score
    FROM _ev t JOIN _judged j USING (user_id)
    WHERE t.signal = 'customer_text'
);

CREATE OR REPLACE TEMP TABLE _facts AS
WITH beh AS (
    SELECT user_id,
           max(last_at) FILTER (WHERE family = 'frustration')                         AS frustrated_at,
           list(DISTINCT signal ORDER BY signal) FILTER (WHERE family = 'frustration') AS frustration_kinds,
           coalesce(bool_or(signal = 'api_error_streak' AND coalesce((detail->>'ongoing')::BOOLEAN, true)), false)
                                                                                      AS errors_ongoing,
           max(last_at) FILTER (WHERE family = 'recovery')                            AS recovered_at,
           list(DISTINCT signal ORDER BY signal) FILTER (WHERE family = 'recovery')   AS recovery_kinds,
           coalesce(sum(count) FILTER (WHERE signal = 'payment_failed'), 0)           AS failed_payments,
           coalesce(bool_or(signal = 'subscription_cancelled'), false)                AS cancelled,
           coalesce(bool_or(signal = 'cancel_page'), false)                           AS cancel_page,
           list(DISTINCT signal ORDER BY signal) FILTER (WHERE family = 'confusion')  AS confusion_kinds,
           coalesce(sum(count) FILTER (WHERE family = 'confusion'), 0)                AS confusion_count,
           count(*) FILTER (WHERE polarity < 0)                                       AS negatives,
           coalesce(sum(weight * least(count, 3)) FILTER (WHERE polarity > 0 AND signal <> 'productive_use'), 0)
                                                                                      AS positive_mass,
           list(DISTINCT detail->>'intent' ORDER BY detail->>'intent') FILTER (WHERE signal = 'intent')
                                                                                      AS intents_seen,
           -- said (searched or wrote) that they want to cancel: a cancel page alone is not saying it
           list(DISTINCT detail->>'source' ORDER BY detail->>'source')
               FILTER (WHERE signal = 'intent' AND detail->>'intent' = 'cancellation' AND detail->>'source' <> 'page')
                                                                                      AS cancel_said_in,
           -- looking for something (billing, a security review): from searches, pages and tickets
           list(DISTINCT detail->>'intent' ORDER BY detail->>'intent')
               FILTER (WHERE signal = 'intent' AND detail->>'intent' IN ('billing', 'security_review'))
                                                                                      AS looking_for
    FROM _ev WHERE family NOT IN ('text', 'meta')
    GROUP BY user_id
), txt AS (
    SELECT t.user_id,
           max(t.seen_at) FILTER (WHERE t.neg) AS neg_text_at,
           max(t.seen_at) FILTER (WHERE t.pos) AS pos_text_at,
           count(*) FILTER (WHERE t.neg)       AS neg_texts,
           arg_min(t.score, t.idx)             AS latest_score,
           -- an open question (a ticket not resolved yet) is what someone is still looking for
           coalesce(bool_or(t.looking AND o.key IS NOT NULL), false) AS asks_looking,
           count(*)                            AS texts
    FROM _texts t
    LEFT JOIN _ev o ON o.user_id = t.user_id AND o.signal = 'open_ticket' AND o.key = t.ticket_id
    GROUP BY t.user_id
), ticket_word AS (  -- the customer's latest word on each open ticket; a ticket about a document they look
                     -- for stays looking when chased ("can u send invoice pls", then "is anyone there")
                     -- unless that latest word is angry at us
    SELECT o.user_id, o.key AS ticket_id, o.count AS customer_messages, o.first_at,
           -- an angry word stays until a kind one: a chase that reads neutral ("I want a response today!!")
           -- does not take the anger back
           (bool_or(t.neg AND NOT t.looking) AND NOT arg_min(t.pos, t.idx))
               AND NOT (bool_or(looks_for_documents(t.text) AND NOT complains_strongly(t.text))
                        AND NOT arg_min(complains_strongly(t.text), t.idx)) AS negative
    FROM _ev o JOIN _texts t ON t.user_id = o.user_id AND t.ticket_id = o.key
    WHERE o.signal = 'open_ticket'
    GROUP BY ALL
), tickets AS (  -- a fresh angry ticket is frustration; left waiting, chased, or one of several, it is leaving
    SELECT user_id, count(*) AS open_negative,
           count(*) FILTER (WHERE customer_messages >= 2
                            OR epoch($as_of) - epoch(coalesce(first_at, $as_of)) >= $ticket_stale_s) AS open_negative_waited,
           list(ticket_id ORDER BY ticket_id) AS negative_tickets
    FROM ticket_word WHERE negative
    GROUP BY user_id
)
SELECT j.user_id, j.scorer, j.context_hash, j.fallback, j.friction, j.confidence AS judge_confidence,
       b.* EXCLUDE (user_id), t.* EXCLUDE (user_id), k.* EXCLUDE (user_id),
       -- intents: what behaviour shows, plus what the text judge heard (known intents only)
       list_sort(list_distinct(list_concat(coalesce(b.intents_seen, []),
           list_filter(coalesce(j.intents, []), lambda x: x IN ('security_review', 'billing', 'cancellation'))))) AS intents,
       coalesce(list_contains(j.intents, 'cancellation'), false) AS judge_heard_cancel
FROM _judged j
LEFT JOIN beh b USING (user_id)
LEFT JOIN txt t USING (user_id)
LEFT JOIN tickets k USING (user_id);

CREATE OR REPLACE TEMP TABLE _decided AS
WITH f AS (
    SELECT *,
           -- behaviour's frustration stands until a behavioural recovery; text frustration until a later
           -- positive word or recovery. A positive text never clears behaviour (the floor).
           frustrated_at IS NOT NULL AND NOT coalesce(recovered_at > frustrated_at, false) AS frustrated_b,
           neg_text_at IS NOT NULL
               AND NOT coalesce(greatest(pos_text_at, recovered_at) > neg_text_at, false) AS frustrated_t,
           -- a cancel page is explained by looking for something (billing, security), by asking for it, or by
           -- being lost (docs, search loops); what the text judge says cannot explain it
           cancel_page AND (len(coalesce(looking_for, [])) > 0 OR coalesce(asks_looking, false)
                            OR len(coalesce(confusion_kinds, [])) > 0) AS cancel_explained
    FROM _facts
), r AS (
    SELECT *,
           frustrated_b OR frustrated_t AS frustrated,
           list_filter([
               CASE WHEN cancelled THEN 'cancelled the subscription' END,
               CASE WHEN failed_payments > 0 THEN failed_payments || ' failed payment' ||
                    CASE WHEN failed_payments <> 1 THEN 's' ELSE '' END || ' not followed by a success' END,
               CASE WHEN coalesce(open_negative, 0) >= 2 OR coalesce(open_negative_waited, 0) >= 1
                    THEN open_negative || ' unresolved ticket' || CASE WHEN open_negative <> 1 THEN 's' ELSE '' END
                         || ' with negative customer text, waiting or chased' END,
               CASE WHEN len(coalesce(cancel_said_in, [])) > 0 OR judge_heard_cancel
                    THEN 'asked about cancelling (' || array_to_string(list_distinct(list_concat(
                         coalesce(cancel_said_in, []), CASE WHEN judge_heard_cancel THEN ['text'] ELSE [] END)), ', ') || ')' END,
               CASE WHEN cancel_page AND NOT cancel_explained THEN 'visited a cancel page that nothing else explains' END
           ], lambda x: x IS NOT NULL) AS leaving
    FROM f
), s AS (
    SELECT *,
           CASE WHEN len(leaving) > 0 THEN 'at_risk'
                WHEN frustrated THEN 'frustrated'
                WHEN len(coalesce(confusion_kinds, [])) > 0 OR cancel_explained THEN 'confused'
                WHEN coalesce(latest_score >= $delighted_text, false)
                     OR (negatives = 0 AND positive_mass >= 3.0) THEN 'delighted'
                ELSE 'exploring' END AS state,
           list_distinct(list_concat(CASE WHEN frustrated_b THEN coalesce(frustration_kinds, []) ELSE [] END,
                                     CASE WHEN frustrated_t THEN ['negative_text'] ELSE [] END)) AS frustration_now
    FROM r
), trend AS (  -- sentiment: an exponentially weighted average of evidence and texts, with a neutral prior
    SELECT user_id, sum(w * p) AS num, sum(w) AS den FROM (
        SELECT user_id, polarity AS p,
               weight * least(coalesce(count, 1), 3) * pow(0.5, greatest(0, epoch($as_of) - epoch(last_at)) / 3600.0 / $half_life_h) AS w
        FROM _ev WHERE polarity <> 0 AND last_at IS NOT NULL
        UNION ALL
        SELECT user_id, score, $text_weight * pow(0.5, greatest(0, epoch($as_of) - epoch(seen_at)) / 3600.0 / $half_life_h)
        FROM _texts)
    GROUP BY user_id
)
SELECT s.user_id, s.state, s.scorer, s.context_hash, s.fallback, s.friction, s.intents,
       round(greatest(-1.0, least(1.0, coalesce(tr.num, 0) / ($prior_weight + coalesce(tr.den, 0)))), 4) AS sentiment,
       round(greatest(0.0, least(1.0, CASE
           WHEN NOT (s.state = 'exploring' OR s.state = 'delighted') OR coalesce(s.texts, 0) > 0
                OR NOT coalesce(s.scorer LIKE 'openai%', false) OR coalesce(s.judge_confidence, 0) = 0 THEN c.base
           ELSE 0.8 * c.base + 0.2 * s.judge_confidence END)), 3) AS confidence,
       -- the rule that fired, in words, with what decided it (policy and the page read `data`)
       CASE s.state
           WHEN 'at_risk' THEN array_to_string(s.leaving, '; ') || CASE WHEN s.frustrated THEN ' (while frustrated)' ELSE '' END
           WHEN 'frustrated' THEN 'frustrated: ' || array_to_string(s.frustration_now, ', ')
                || CASE WHEN s.errors_ongoing AND s.frustrated_b THEN '; errors still failing' ELSE '' END
                || CASE WHEN len(coalesce(s.looking_for, [])) > 0
                        THEN '; lost while ' || CASE WHEN list_contains(s.looking_for, 'billing')
                                                     THEN 'looking for invoices and billing settings'
                                                     ELSE 'running a security review' END ELSE '' END
           WHEN 'confused' THEN 'confused: ' || array_to_string(list_concat(coalesce(s.confusion_kinds, []),
                CASE WHEN s.cancel_explained THEN ['on the cancel page while looking for '
                     || CASE WHEN list_contains(coalesce(s.looking_for, []), 'billing') THEN 'billing'
                             WHEN len(coalesce(s.looking_for, [])) > 0 THEN 'security documents' ELSE 'help' END]
                     ELSE [] END), ', ')
           WHEN 'delighted' THEN 'delighted: ' || CASE WHEN coalesce(s.latest_score >= $delighted_text, false)
                THEN 'clearly positive message' ELSE 'strong positive signals, nothing negative' END
           ELSE CASE WHEN s.frustrated_at IS NOT NULL OR s.neg_text_at IS NOT NULL
                     THEN 'exploring: recovered (' || array_to_string(coalesce(s.recovery_kinds, ['positive_text']), ', ') || ')'
                     ELSE 'exploring: active, no friction or leaving signals' END
       END AS rule,
       json_object('state', s.state, 'leaving', s.leaving, 'frustration', s.frustration_now,
                   'errors_ongoing', s.errors_ongoing AND s.frustrated_b,
                   'looking_for', coalesce(s.looking_for, []), 'cancel_explained', s.cancel_explained,
                   'confusion', coalesce(s.confusion_kinds, []),
                   'negative_tickets', coalesce(s.negative_tickets, [])) AS rule_data
FROM s
LEFT JOIN trend tr USING (user_id)
CROSS JOIN LATERAL (SELECT CASE s.state
    WHEN 'at_risk' THEN 0.45 + 0.15 * len(s.leaving) + CASE WHEN coalesce(s.neg_texts, 0) > 0 THEN 0.1 ELSE 0 END
    WHEN 'frustrated' THEN 0.5 + 0.12 * len(s.frustration_now) + CASE WHEN s.errors_ongoing THEN 0.1 ELSE 0 END
    WHEN 'confused' THEN 0.45 + 0.1 * (len(coalesce(s.confusion_kinds, [])) + CASE WHEN s.cancel_explained THEN 1 ELSE 0 END)
                         + 0.05 * least(3, s.confusion_count)
    WHEN 'delighted' THEN CASE WHEN coalesce(s.latest_score >= $delighted_text, false)
                               THEN 0.5 + 0.4 * s.latest_score ELSE 0.7 END
    ELSE CASE WHEN coalesce(s.negatives, 0) = 0 THEN 0.5 ELSE 0.4 END END AS base) c;
