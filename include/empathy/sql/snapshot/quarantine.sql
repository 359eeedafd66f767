-- Rejected lines per reason, with the per-line specifics ("unknown type 'x'") folded into one reason.
SELECT CASE WHEN reason LIKE 'unparseable timestamp%' THEN 'unparseable timestamp'
            WHEN reason LIKE 'unknown type%' THEN 'unknown type'
            ELSE regexp_replace(reason, ' \(.*$', '') END AS reason,
       count(*) AS lines
FROM quarantine
GROUP BY 1
ORDER BY lines DESC, reason;
