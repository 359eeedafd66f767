-- The detectors' findings with what the catalogue says each signal means (family, polarity, weight).
-- reads: sig_found, signal_catalog
-- writes: sig_evidence (temp)
-- takes: nothing
CREATE OR REPLACE TEMP TABLE sig_evidence AS
SELECT f.user_id, f.signal, f.key, c.family, c.polarity, c.weight, f.first_at, f.last_at, f.count, f.detail
FROM sig_found f JOIN signal_catalog c USING (signal);
