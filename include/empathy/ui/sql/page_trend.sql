-- Users per state at the end of each day (the overview's chart).
-- reads: trend (read model)
-- writes: nothing
-- takes:
SELECT day, state, users FROM trend ORDER BY day, state;
