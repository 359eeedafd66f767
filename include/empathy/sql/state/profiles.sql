-- Who the scoped users are as of $as_of: their account (latest group call, as user_profiles) and
-- the names in their identify traits (redacted before any text leaves the machine).
SELECT u.user_id,
       g.account_id,
       i.names
FROM _scope_users u
LEFT JOIN (SELECT user_id, arg_max(group_id, ts) AS account_id
           FROM events SEMI JOIN _scope_users USING (user_id)
           WHERE type = 'group' AND group_id IS NOT NULL AND ts <= $as_of
           GROUP BY user_id) g USING (user_id)
LEFT JOIN (SELECT user_id,
                  list(DISTINCT n) FILTER (WHERE n IS NOT NULL AND trim(n) <> '') AS names
           FROM (SELECT user_id, unnest([traits->>'name', traits->>'first_name', traits->>'last_name',
                                         traits->>'firstName', traits->>'lastName']) AS n
                 FROM events SEMI JOIN _scope_users USING (user_id)
                 WHERE type = 'identify' AND traits IS NOT NULL)
           GROUP BY user_id) i USING (user_id)
