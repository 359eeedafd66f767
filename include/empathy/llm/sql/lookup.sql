-- The stored LLM answers for the request keys asked about (one row per key found).
-- reads: llm_cache
-- writes: nothing
-- takes: $keys
SELECT c.context_hash AS key, c.response::VARCHAR AS response
FROM llm_cache c
SEMI JOIN (SELECT unnest($keys::VARCHAR[]) AS key) k ON k.key = c.context_hash;
