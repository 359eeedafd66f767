-- Which outbox rows a relay may take now: never-claimed pending rows, rows claimed by a relay that did not
-- record within the lease (it crashed: re-sent at most once more), and failed rows with attempts left.
-- One definition, used by the claim (sql/delivery/claim.sql) and by the pipeline's choice of deliveries.
CREATE OR REPLACE MACRO deliverable(status, attempts, updated_at, max_attempts, stale_before, failed_before) AS
    attempts < max_attempts
    AND ((status = 'pending' AND (attempts = 0 OR updated_at < stale_before))
         OR (status = 'failed' AND updated_at < failed_before));
