-- DuckDB's limits as they are, to be put back after the ingest.
-- reads:
-- writes:
-- takes:
SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('preserve_insertion_order');
