-- What the landing folder needs a person for, newest first (the run summary and the page show it): every
-- file not read, or read only in part, with what is wrong and what to do; and every file with
-- quarantined lines, with how many and the most common reason.
-- reads: ingest_errors, ingested_files, quarantine
-- writes:
-- takes: $limit
WITH reasons AS (
    SELECT source_file, mode(regexp_replace(reason, ' \(.*$', '')) AS reason
    FROM quarantine GROUP BY source_file
)
SELECT file_name, kind, error, action, seen_at, quarantined FROM (
    SELECT file_name, kind, error, action, seen_at, NULL::BIGINT AS quarantined
    FROM ingest_errors
    UNION ALL
    SELECT f.file_name, 'quarantined_lines',
           f.quarantined || ' of its ' || f.lines || ' lines were quarantined (most often: '
               || coalesce(r.reason, '?') || ')',
           'Each line and its reason is in the quarantine table; fix the export and land those lines '
               || 'again under a new name',
           f.ingested_at AS seen_at, f.quarantined
    FROM ingested_files f LEFT JOIN reasons r ON r.source_file = f.file_name
    WHERE f.quarantined > 0
)
ORDER BY seen_at DESC, file_name
LIMIT $limit;
