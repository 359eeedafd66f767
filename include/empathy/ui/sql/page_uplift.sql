-- Holdout versus treatment per week of enrolment (counts; the page adds the intervals).
-- reads: uplift (read model)
-- writes: nothing
-- takes:
SELECT * FROM uplift ORDER BY cohort, holdout;
