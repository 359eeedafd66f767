-- One action by its id (a preview names its action).
-- reads: actions (read model)
-- writes: nothing
-- takes: $action_id
SELECT * FROM actions WHERE action_id = $action_id LIMIT 1;
