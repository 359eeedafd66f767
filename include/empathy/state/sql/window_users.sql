-- The users whose state as of a window's end was computed inside that window (by this run, or by an
-- earlier backfill of the same window): what a simulated window decides for, so a simulation of the same
-- window gives the same decisions however many times, and in whatever order, its windows run.
-- reads: user_state, user_state_history
-- writes: nothing (the user ids)
-- takes: $as_of, $since
SELECT user_id FROM user_state WHERE as_of > $since AND as_of <= $as_of
UNION
SELECT user_id FROM user_state_history WHERE as_of > $since AND as_of <= $as_of
