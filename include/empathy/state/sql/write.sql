-- Write the run's states: user_state (never regressing to an older as_of: a backfill writes history
-- only), user_state_history (one row per change, plus the recomputed row of a backfilled window; a rerun
-- rewrites its own row), and prune evidence older than each user's current state.
-- reads: _decided, _reasons, _ev, user_state, user_state_history
-- writes: user_state, user_state_history, user_evidence, _new_states (temp)
-- takes: $as_of, $run_id, $now
CREATE OR REPLACE TEMP TABLE _new_states AS
WITH profile AS (
    SELECT user_id, detail->>'account_id' AS account_id, TRY_CAST(detail->>'last_event_at' AS TIMESTAMPTZ) AS last_event_at,
           TRY_CAST(detail->>'prepared_at' AS TIMESTAMPTZ) AS prepared_at
    FROM _ev WHERE signal = 'profile'
), before AS (
    SELECT h.user_id, arg_max(h.state, h.as_of) FILTER (WHERE h.as_of < $as_of) AS before_state,
           bool_or(h.as_of = $as_of) AS has_row_at
    FROM user_state_history h SEMI JOIN _decided d USING (user_id)
    GROUP BY h.user_id
)
SELECT d.user_id, p.account_id, d.state, d.sentiment, d.confidence, d.intents, r.reasons, d.scorer, d.context_hash,
       $as_of::TIMESTAMPTZ AS as_of, p.last_event_at, coalesce(p.prepared_at, $now::TIMESTAMPTZ) AS updated_at,
       $run_id::VARCHAR AS run_id,
       coalesce(cur.as_of > $as_of, false) AS is_backfill,
       coalesce(b.before_state, CASE WHEN NOT coalesce(cur.as_of > $as_of, false) THEN cur.state END) AS previous_state,
       coalesce(b.has_row_at, false) AS has_row_at
FROM _decided d
JOIN _reasons r USING (user_id)
LEFT JOIN profile p USING (user_id)
LEFT JOIN user_state cur USING (user_id)
LEFT JOIN before b USING (user_id);

INSERT INTO user_state (user_id, account_id, state, sentiment, confidence, intents, on_hold, reasons, scorer,
                        context_hash, as_of, last_event_at, updated_at, run_id)
SELECT user_id, account_id, state, sentiment, confidence, intents, false, reasons, scorer, context_hash, as_of,
       last_event_at, updated_at, run_id
FROM _new_states WHERE NOT is_backfill
ON CONFLICT (user_id) DO UPDATE SET
    account_id = excluded.account_id, state = excluded.state, sentiment = excluded.sentiment,
    confidence = excluded.confidence, intents = excluded.intents, reasons = excluded.reasons,
    scorer = excluded.scorer, context_hash = excluded.context_hash, as_of = excluded.as_of,
    last_event_at = excluded.last_event_at, updated_at = excluded.updated_at, run_id = excluded.run_id
WHERE user_state.as_of <= excluded.as_of;

INSERT OR REPLACE INTO user_state_history (user_id, as_of, account_id, state, sentiment, confidence, intents,
                                           on_hold, reasons, scorer, previous_state, recorded_at, run_id, context_hash)
SELECT n.user_id, n.as_of, n.account_id, n.state, n.sentiment, n.confidence, n.intents,
       coalesce(s.on_hold AND s.as_of = n.as_of, false), n.reasons, n.scorer, n.previous_state, $now, n.run_id,
       n.context_hash
FROM _new_states n LEFT JOIN user_state s USING (user_id)
WHERE n.state IS DISTINCT FROM n.previous_state OR n.is_backfill OR n.has_row_at;

DELETE FROM user_evidence e
WHERE e.user_id IN (SELECT user_id FROM _new_states)
  AND e.as_of < (SELECT s.as_of FROM user_state s WHERE s.user_id = e.user_id);
