-- One user, everything the user page shows of them but their actions and the decision log.
-- reads: users (read model)
-- writes: nothing
-- takes: $user_id
SELECT * EXCLUDE (fp, search, email_hash) FROM users WHERE user_id = $user_id;
