-- The page's own macros, made once per opened version of the read model.
-- reads: nothing
-- writes: folded (macro: a reason without its specifics, so that alike reasons count together)
-- takes:
CREATE OR REPLACE MACRO folded(reason) AS
    trim(regexp_replace(regexp_replace(reason, '\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?( UTC)?', 'a time', 'g'),
                        ' ?\([^()]*\d[^()]*\)', '', 'g'));
