-- The scorers' judgements of a run, read back from the hand-off files the scoring tasks wrote.
-- reads: _judgements_in (the judgement files)
-- writes: _judged (temp)
-- takes: nothing
CREATE OR REPLACE TEMP TABLE _judged AS
SELECT user_id, sentiment, confidence, coalesce(intents, []) AS intents, coalesce(friction, '') AS friction,
       scorer, context_hash, fallback, coalesce(text_scores, []) AS text_scores, emotion
FROM _judgements_in
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY scorer) = 1;   -- a user is judged once per run
