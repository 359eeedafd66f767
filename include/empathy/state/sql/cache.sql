-- Real LLM answers by the hash of what was sent, so an unchanged context is not sent again.
-- reads: _judged
-- writes: llm_cache
-- takes: $now
INSERT OR REPLACE INTO llm_cache (context_hash, model, response, created_at)
SELECT context_hash, split_part(scorer, ':', 2),
       to_json({'user_id': user_id, 'sentiment': sentiment, 'emotion': emotion, 'intents': intents,
                'confidence': confidence, 'friction': friction, 'text_scores': text_scores, 'scorer': scorer,
                'context_hash': context_hash, 'fallback': NULL::VARCHAR}),
       $now
FROM _judged
WHERE context_hash IS NOT NULL AND scorer LIKE 'openai%' AND fallback IS NULL;
