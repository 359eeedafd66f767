-- One ingested_files row per file this run read to the end (the relation `file_rows`, in the table's columns).
-- reads: file_rows
-- writes: ingested_files
-- takes:
INSERT INTO ingested_files BY NAME SELECT * FROM file_rows;
