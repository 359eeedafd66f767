-- What needs a person, besides users: landed files the ingest refused or read in part, and quarantined
-- lines per reason (the per-line specifics folded into one reason).
-- reads: ingest_errors, ingested_files, quarantine
-- writes: nothing
-- takes:
SELECT 'file' AS what, file_name AS name, error AS detail, NULL::BIGINT AS n, seen_at AS seen_at
FROM ingest_errors
UNION ALL
SELECT 'file', file_name, quarantined || ' of its ' || lines || ' lines were quarantined', quarantined, ingested_at
FROM ingested_files WHERE quarantined > 0
UNION ALL
SELECT 'quarantine', reason, NULL, count(*), max(quarantined_at)
FROM (SELECT CASE WHEN reason LIKE 'unparseable timestamp%' THEN 'unparseable timestamp'
                  WHEN reason LIKE 'unknown type%' THEN 'unknown type'
                  ELSE regexp_replace(reason, ' \(.*$', '') END AS reason, quarantined_at
      FROM quarantine)
GROUP BY reason
ORDER BY what, seen_at DESC, name;
