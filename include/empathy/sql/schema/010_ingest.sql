-- Raw interaction events, one row per Segment messageId (the natural key: dedup across files and runs).
-- Unique by construction: the one writer (ingest) inserts only messageIds not already here. No PRIMARY KEY
-- index: maintaining it made bulk loads 2.5x slower, and the anti-join in sql/ingest/load_file.sql does its job.
CREATE TABLE IF NOT EXISTS events (
    message_id    VARCHAR NOT NULL,
    user_id       VARCHAR NOT NULL,     -- userId, or 'anon:' || anonymousId when there is no userId
    anonymous_id  VARCHAR,
    type          VARCHAR NOT NULL,     -- track, page, identify, group, screen, alias
    event         VARCHAR,              -- track event name
    name          VARCHAR,              -- page / screen name
    ts            TIMESTAMPTZ NOT NULL, -- the call's timestamp
    group_id      VARCHAR,
    properties    JSON,
    traits        JSON,
    context       JSON,
    source_file   VARCHAR NOT NULL,
    line_no       BIGINT NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL
);

-- Every rejected line, kept as it arrived, with the reason it was rejected.
CREATE TABLE IF NOT EXISTS quarantine (
    source_file   VARCHAR NOT NULL,
    line_no       BIGINT NOT NULL,
    raw           VARCHAR,              -- the raw line (bytes decoded with replacement when not UTF-8)
    reason        VARCHAR NOT NULL CHECK (reason <> ''),
    quarantined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source_file, line_no)
);

-- One row per landed file: every non-blank line is counted in exactly one of loaded/duplicates/quarantined.
CREATE TABLE IF NOT EXISTS ingested_files (
    file_name     VARCHAR PRIMARY KEY,  -- path relative to the landing folder
    sha256        VARCHAR NOT NULL,
    size_bytes    BIGINT NOT NULL,
    lines         BIGINT NOT NULL,      -- non-blank lines
    loaded        BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    quarantined   BIGINT NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR,
    mtime_ns      BIGINT                -- with size_bytes: an unchanged file is skipped without being read
);

-- A landed file whose content changed under a name already ingested: reported, never silently re-read.
CREATE TABLE IF NOT EXISTS ingest_errors (
    file_name     VARCHAR NOT NULL,
    sha256        VARCHAR NOT NULL,
    error         VARCHAR NOT NULL,
    seen_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (file_name, sha256)
);
