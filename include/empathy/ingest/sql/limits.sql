-- DuckDB's limits for the ingest (memory, threads; no insertion order to keep), or back to what they were.
-- reads:
-- writes: (settings of this connection's database)
-- takes: $memory_limit, $threads, $preserve_insertion_order
SET memory_limit = $memory_limit;
SET threads = $threads;
SET preserve_insertion_order = $preserve_insertion_order;
