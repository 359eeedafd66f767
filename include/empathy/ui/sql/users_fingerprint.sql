-- Whether anything the users file shows may have changed since the last refresh, cheaply: the state rows,
-- the group calls (account names, MRR, managers) and the latest state history recorded.
-- reads: user_state, events, user_state_history
-- writes: nothing
-- takes:
SELECT (SELECT coalesce(sum(hash(user_id, account_id, state, sentiment, confidence, intents, on_hold, scorer, as_of,
                                 updated_at, last_event_at, run_id)::HUGEINT), 0)::VARCHAR || '/' || count(*)
        FROM user_state)
       || '/' || (SELECT count(*) || '/' || coalesce(max(ingested_at)::VARCHAR, '') FROM events WHERE type = 'group')
       AS fingerprint,
       (SELECT count(*) FROM user_state) AS users,
       (SELECT max(recorded_at)::VARCHAR FROM user_state_history) AS history_mark;
