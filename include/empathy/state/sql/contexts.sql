-- What the text scorer gets per user, in scoring batches: the latest customer texts (newest first),
-- a compact summary of the behavioural evidence (for the LLM), and the names and email to redact.
-- reads: _scope_users, sig_evidence, sig_texts, sig_profile
-- writes: _contexts (temp)
-- takes: $as_of, $batch_size
CREATE OR REPLACE TEMP TABLE _contexts AS
WITH ev AS (
    SELECT user_id, signal, sum(count) AS count, max(last_at) AS last_at,
           list(detail ORDER BY last_at DESC NULLS LAST, key)[1:2] AS examples
    FROM sig_evidence WHERE signal <> 'intent'
    GROUP BY ALL
), ev_json AS (
    SELECT user_id, json_group_object(signal, json_object('count', count, 'last_at', last_at, 'examples', examples))
               AS evidence
    FROM ev GROUP BY user_id
), intents AS (
    SELECT user_id, json_group_object(intent, json_object('sources', sources, 'examples', examples)) AS intents
    FROM (SELECT user_id, detail->>'intent' AS intent, list(DISTINCT detail->>'source' ORDER BY detail->>'source') AS sources,
                 list_sort(flatten(list(from_json(detail->'examples', '["VARCHAR"]') ORDER BY detail->>'source')))[1:3] AS examples
          FROM sig_evidence WHERE signal = 'intent' GROUP BY ALL)
    GROUP BY user_id
), texts AS (
    SELECT user_id, list({'ts': strftime(ts, '%Y-%m-%dT%H:%M:%S.%f+00:00'), 'kind': kind, 'text': text,
                          'ticket_id': ticket_id} ORDER BY idx) AS texts
    FROM sig_texts GROUP BY user_id
)
SELECT u.user_id, strftime($as_of::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%S.%f+00:00') AS as_of,
       coalesce(t.texts, []) AS texts,
       CASE WHEN i.intents IS NULL THEN coalesce(e.evidence, '{}')::VARCHAR
            ELSE json_merge_patch(coalesce(e.evidence, '{}'), json_object('intents', i.intents))::VARCHAR END AS evidence,
       coalesce(p.pii_names, []) AS pii_names,
       ((row_number() OVER (ORDER BY u.user_id)) - 1) // $batch_size AS batch_no
FROM _scope_users u
LEFT JOIN ev_json e USING (user_id)
LEFT JOIN intents i USING (user_id)
LEFT JOIN texts t USING (user_id)
LEFT JOIN sig_profile p USING (user_id);
