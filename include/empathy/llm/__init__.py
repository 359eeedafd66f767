"""Everything that talks to an LLM, in one package, none of it touching the database.

- ``client``   one OpenAI client per task (the provider's OpenAIHook, via ``empathy.connections``), typed
               answers with ``chat.completions.parse``, the reason when there is none, bounded concurrency;
- ``scoring``  ``OpenAIScorer``: a judgement per user, falling back to the lexicon per user with a reason;
- ``evidence`` the short redacted lines of evidence the scorer sends;
- ``rewrite``  drip email bodies in a tone, under guardrails, or the reason the template stands;
- ``batch``    scoring through the Batch API: submit, a deferred wait, collect;
- ``cache``    the one cache of answers (``llm_cache``), read and written by the DB tasks around these.

See docs/scoring.md ("The LLM scorer") for the prompts, the cache, the Batch API and what is measured.
"""
