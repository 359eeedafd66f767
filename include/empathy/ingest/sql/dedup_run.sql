-- Within one run, a messageId repeated across lines keeps only its first line (file name order, then line
-- order); the others are duplicates. Returns the lines loaded per file.
-- reads: events
-- writes: events
-- takes: $ingested_at
DELETE FROM events WHERE rowid IN (
    SELECT rowid FROM events
    WHERE ingested_at = $ingested_at
      AND message_id IN (SELECT message_id FROM events WHERE ingested_at = $ingested_at
                         GROUP BY message_id HAVING count(*) > 1)
    QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY source_file, line_no) > 1);

SELECT source_file, count(*) AS loaded FROM events WHERE ingested_at = $ingested_at GROUP BY source_file;
