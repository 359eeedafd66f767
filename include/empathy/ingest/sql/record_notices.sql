-- What the landing folder is told, once per file version: the relation `notice_rows` (the table's columns).
-- reads: notice_rows
-- writes: ingest_errors
-- takes:
INSERT INTO ingest_errors BY NAME SELECT * FROM notice_rows ON CONFLICT DO NOTHING;
