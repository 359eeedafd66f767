-- What a decision at $as_of may know: the decisions already made, and each user's hold. Real runs see
-- every real decision, earlier and later (a newer window already decided: an older window run afterwards
-- never re-alerts or re-sends); a simulation sees the real decisions up to its window and its own scope's.
-- reads: actions
-- writes: _seen, _holds (temp)
-- takes: $as_of, $scope
CREATE OR REPLACE TEMP TABLE _seen AS
SELECT * FROM actions
WHERE (NOT simulate AND ($scope = '' OR as_of <= $as_of))
   OR ($scope <> '' AND scope = $scope AND as_of <= $as_of);

-- The hold each user is in: the latest hold or release they know of.
CREATE OR REPLACE TEMP TABLE _holds AS
SELECT user_id, kind = 'hold' AS on_hold, as_of AS changed_at, reason,
       CASE WHEN kind = 'hold' THEN as_of END AS since, detail
FROM _seen
WHERE kind IN ('hold', 'release') AND status <> 'skipped'
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY as_of DESC, kind = 'release' DESC, created_at DESC) = 1;
