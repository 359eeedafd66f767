-- The ingest's tables: events (one row per Segment messageId), quarantine (each rejected line and why),
-- ingested_files (each file read, reconciled) and ingest_errors (each file not read, or read only in part).
-- reads:
-- writes: events, quarantine, ingested_files, ingest_errors
-- takes:

-- Raw interaction events, one row per Segment messageId (the natural key: dedup across files and runs).
-- Unique by construction: the one writer (ingest) inserts only messageIds not already here. No PRIMARY KEY
-- index: maintaining it made bulk loads 2.5x slower, and the anti-join in ingest/sql/load_events.sql does its job.
CREATE TABLE IF NOT EXISTS events (
    message_id    VARCHAR NOT NULL,
    user_id       VARCHAR NOT NULL,     -- userId, or 'anon:' || anonymousId when there is no userId
    anonymous_id  VARCHAR,
    type          VARCHAR NOT NULL,     -- track, page, identify, group, screen, alias
    event         VARCHAR,              -- track event name
    name          VARCHAR,              -- page / screen name
    ts            TIMESTAMPTZ NOT NULL, -- the call's timestamp: finite, inside the accepted window (EMPATHY_INGEST_TS_*)
    group_id      VARCHAR,
    properties    JSON,
    traits        JSON,
    context       JSON,
    source_file   VARCHAR NOT NULL,
    line_no       BIGINT NOT NULL,      -- the line in source_file (1-based, blank lines counted)
    ingested_at   TIMESTAMPTZ NOT NULL
);

-- Every rejected line with the reason it was rejected: a bounded prefix of it, its full length and hash.
CREATE TABLE IF NOT EXISTS quarantine (
    source_file   VARCHAR NOT NULL,
    line_no       BIGINT NOT NULL,
    raw           VARCHAR,              -- the line's first EMPATHY_QUARANTINE_RAW_BYTES bytes (bytes that are not UTF-8 as U+FFFD)
    reason        VARCHAR NOT NULL CHECK (reason <> ''),
    quarantined_at TIMESTAMPTZ NOT NULL,
    raw_bytes     BIGINT,               -- the whole line's length in bytes (without its newline)
    raw_sha256    VARCHAR,              -- and its SHA-256: find the line in the source without keeping all of it here
    run_id        VARCHAR,
    PRIMARY KEY (source_file, line_no)
);

-- One row per landed file read: every non-blank line is counted in exactly one of loaded/duplicates/quarantined.
CREATE TABLE IF NOT EXISTS ingested_files (
    file_name     VARCHAR PRIMARY KEY,  -- path relative to the landing folder (bytes that are not UTF-8 as \xNN)
    sha256        VARCHAR NOT NULL,     -- of the file as landed (compressed, for .gz)
    size_bytes    BIGINT NOT NULL,
    lines         BIGINT NOT NULL,      -- non-blank lines
    loaded        BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    quarantined   BIGINT NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR,
    mtime_ns      BIGINT,               -- with size_bytes: an unchanged file is skipped without being read
    content_bytes BIGINT                -- after decompression
);

-- The landing folder talking back, once per file version (name, size, mtime): a file or folder not read
-- (a link, another format, a JSON array, a gzip bomb, changed after it was ingested, ...) or read only in
-- part (damaged gzip), with what is wrong and what to do.
CREATE TABLE IF NOT EXISTS ingest_errors (
    file_name     VARCHAR NOT NULL,
    size_bytes    BIGINT NOT NULL,
    mtime_ns      BIGINT NOT NULL,
    kind          VARCHAR NOT NULL,     -- symlink, not_a_file, unsupported_name, empty, json_array, json_document, ...
    error         VARCHAR NOT NULL,     -- what is wrong, in words
    action        VARCHAR NOT NULL,     -- what to do
    sha256        VARCHAR,              -- of the content, when it was read
    seen_at       TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR,
    PRIMARY KEY (file_name, size_bytes, mtime_ns)
);
