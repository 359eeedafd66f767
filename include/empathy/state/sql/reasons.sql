-- Each judged user's reasons: first the rule that fired (in words, with what decided it), the text
-- judge's sentence and any scorer fallback, then the evidence, the rows that decided the state first,
-- newest first. Evidence rows are typed ({signal, key, family, polarity, at, data}); the catalogue
-- says how each reads in words (empathy.signals.catalog.words), so nothing is written as a sentence
-- and parsed back.
-- reads: _ev, _texts, _decided
-- writes: _reasons (temp)
-- takes: $as_of, $max_reasons
CREATE OR REPLACE TEMP TABLE _reasons AS
WITH rows AS (
    SELECT e.user_id, e.signal, e.key, e.family, e.polarity, e.first_at AS since, e.last_at AS seen_at, e.detail AS data,
           CASE d.state
               WHEN 'at_risk' THEN e.family = 'leaving'
                    OR (e.signal = 'open_ticket' AND list_contains(from_json(d.rule_data->'negative_tickets', '["VARCHAR"]'), e.key))
                    OR (e.signal = 'cancel_page' AND NOT (d.rule_data->>'cancel_explained')::BOOLEAN)
                    OR (e.signal = 'intent' AND e.detail->>'intent' = 'cancellation' AND e.detail->>'source' <> 'page')
               WHEN 'frustrated' THEN e.family = 'frustration'
               WHEN 'confused' THEN e.family = 'confusion' OR e.signal = 'cancel_page'
                    OR (e.signal = 'intent' AND e.detail->>'intent' IN ('billing', 'security_review'))
               WHEN 'delighted' THEN e.polarity > 0
               ELSE e.family = 'recovery' END AS deciding
    FROM _ev e JOIN _decided d USING (user_id)
    WHERE e.family NOT IN ('text', 'meta')
    UNION ALL
    SELECT t.user_id, 'customer_text', t.message_id, 'text', CASE WHEN t.neg THEN -1 WHEN t.pos THEN 1 ELSE 0 END,
           t.seen_at, t.seen_at, json_object('kind', t.kind, 'ticket_id', t.ticket_id, 'score', round(t.score, 3),
                             'text', left(t.text, 280), 'asks', t.asks),
           (d.state IN ('frustrated', 'at_risk') AND t.neg) OR (d.state = 'delighted' AND t.idx = 0)
    FROM _texts t JOIN _decided d USING (user_id)
), items AS (
    SELECT user_id,
           list({'signal': signal, 'key': key, 'family': family, 'polarity': polarity, 'at': seen_at,
                 'since': since, 'deciding': deciding, 'detail': NULL::VARCHAR, 'data': data}
                ORDER BY deciding DESC, seen_at DESC NULLS LAST, signal, key)[1:$max_reasons] AS items
    FROM rows GROUP BY user_id
)
SELECT d.user_id,
       to_json(list_concat(
           [{'signal': 'state', 'key': d.state, 'family': 'rule', 'polarity': 0, 'at': $as_of::TIMESTAMPTZ,
             'since': $as_of::TIMESTAMPTZ, 'deciding': true, 'detail': d.rule, 'data': d.rule_data}],
           CASE WHEN coalesce(d.friction, '') <> '' THEN
               [{'signal': 'text_judgement', 'key': d.scorer, 'family': 'text', 'polarity': 0, 'at': $as_of::TIMESTAMPTZ,
                 'since': $as_of::TIMESTAMPTZ, 'deciding': false, 'detail': left(d.friction, 300), 'data': NULL::JSON}] ELSE [] END,
           CASE WHEN d.fallback IS NOT NULL THEN
               [{'signal': 'scorer_fallback', 'key': d.scorer, 'family': 'meta', 'polarity': 0, 'at': $as_of::TIMESTAMPTZ,
                 'since': $as_of::TIMESTAMPTZ, 'deciding': false, 'detail': d.scorer || ': ' || d.fallback, 'data': NULL::JSON}] ELSE [] END,
           coalesce(i.items, []))) AS reasons
FROM _decided d LEFT JOIN items i USING (user_id);
