-- Keep what this scoring saw, per user and as_of, so the state can be applied later from the table
-- alone: the behavioural evidence, the customer texts in the order the scorer saw them, and the profile.
-- A rerun replaces the rows of the same (user, as_of).
-- reads: sig_evidence, sig_texts, sig_profile, _scope_users, signal_catalog
-- writes: user_evidence
-- takes: $as_of, $prepared_at
DELETE FROM user_evidence WHERE as_of = $as_of AND user_id IN (SELECT user_id FROM _scope_users);

INSERT INTO user_evidence (user_id, as_of, signal, key, family, polarity, weight, first_at, last_at, count, detail)
SELECT user_id, $as_of, signal, key, family, polarity, weight, first_at, last_at, count, detail FROM sig_evidence
UNION ALL
SELECT user_id, $as_of, 'customer_text', message_id, 'text', 0, 0.0, ts, ts, 1,
       json_object('idx', idx, 'kind', kind, 'ticket_id', ticket_id, 'text', text, 'asks', asks)
FROM sig_texts
UNION ALL
SELECT user_id, $as_of, 'profile', 'profile', 'meta', 0, 0.0, first_at, last_event_at, events,
       json_object('account_id', account_id, 'pii_names', pii_names, 'last_event_at', last_event_at,
                   'events', events, 'sessions', sessions, 'commands', commands, 'api_ok', api_ok,
                   'prepared_at', $prepared_at)
FROM sig_profile;
