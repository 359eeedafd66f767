-- LLM answers by the hash of the request that produced them: the same request is never sent twice.
-- reads: _llm_rows (key, model, response)
-- writes: llm_cache
-- takes: $now
INSERT OR REPLACE INTO llm_cache (context_hash, model, response, created_at)
SELECT key, model, response::JSON, $now
FROM (SELECT * FROM _llm_rows QUALIFY row_number() OVER (PARTITION BY key ORDER BY model) = 1);
