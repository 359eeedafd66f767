-- Quarantined lines per reason (the per-line specifics folded into one reason), beside the landed files
-- the ingest refused or read in part (empathy.ingest.landing_problems: its own words, what to do).
-- reads: quarantine
-- writes: nothing
-- takes:
SELECT 'quarantine' AS what, reason AS name, NULL::VARCHAR AS detail, count(*) AS n, max(quarantined_at) AS seen_at
FROM (SELECT CASE WHEN reason LIKE 'unparseable timestamp%' THEN 'unparseable timestamp'
                  WHEN reason LIKE 'unknown type%' THEN 'unknown type'
                  ELSE regexp_replace(reason, ' \(.*$', '') END AS reason, quarantined_at
      FROM quarantine)
GROUP BY reason
ORDER BY seen_at DESC, name;
