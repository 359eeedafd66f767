-- One account.
-- reads: accounts (read model)
-- writes: nothing
-- takes: $account_id
SELECT * EXCLUDE (search) FROM accounts WHERE account_id = $account_id;
