-- The changed users as the page shows them (their rows, rendered), sorted by user_id so that one user's
-- page reads one row group; and the unchanged rows still wanted from a file being rewritten.
-- reads: _ui_new, _ui_rendered, _ui_keep (view: the rows of the file being rewritten), _ui_changed, user_state
-- writes: nothing
-- takes:
SELECT * FROM (
    SELECT n.* REPLACE (r.account_name AS account_name), r.name, r.email_hash, r.email_domain, r.rule, r.friction,
           r.evidence, lower(concat_ws(' ', n.user_id, r.name, n.account_id, r.account_name)) AS search
    FROM _ui_new n JOIN _ui_rendered r USING (user_id)
    UNION ALL BY NAME
    SELECT k.* FROM _ui_keep k SEMI JOIN user_state s USING (user_id) ANTI JOIN _ui_changed c USING (user_id)
)
ORDER BY user_id;
