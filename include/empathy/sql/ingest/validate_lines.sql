-- Parse and validate raw landed lines (the Arrow table `raw_lines`: line_no, raw, pre_reason) in one
-- vectorised pass. Every line comes out exactly once, with either a parsed event or a reason.
-- pre_reason carries what Python already knew (not UTF-8, over 32 KB).
CREATE OR REPLACE TEMP TABLE validated AS
WITH parsed AS (
    SELECT line_no, raw, pre_reason,
           pre_reason IS NULL AND json_valid(raw) AS is_json
    FROM raw_lines
), typed AS (
    SELECT *, CASE WHEN is_json THEN json_type(raw::JSON) END AS root_type
    FROM parsed
), fields AS (
    SELECT line_no, raw, pre_reason, is_json, root_type,
           CASE WHEN root_type = 'OBJECT' THEN raw::JSON END AS j
    FROM typed
), extracted AS (
    SELECT line_no, raw, pre_reason, is_json, root_type, j,
           nullif(trim(j->>'$.messageId'), '')                                    AS message_id,
           nullif(trim(j->>'$.userId'), '')                                       AS user_id,
           nullif(trim(j->>'$.anonymousId'), '')                                  AS anonymous_id,
           j->>'$.type'                                                           AS type,
           nullif(trim(j->>'$.event'), '')                                        AS event,
           j->>'$.name'                                                           AS name,
           coalesce(j->>'$.timestamp', j->>'$.originalTimestamp', j->>'$.sentAt', j->>'$.receivedAt') AS ts_text,
           coalesce(j->>'$.groupId', CASE WHEN j->>'$.type' <> 'group' THEN j->>'$.context.groupId' END) AS group_id,
           json_type(j, '$.properties')                                           AS properties_type,
           json_type(j, '$.traits')                                               AS traits_type,
           json_type(j, '$.context')                                              AS context_type
    FROM fields
)
SELECT line_no, raw, message_id, user_id, anonymous_id, type, event, name, group_id, j,
       TRY_CAST(ts_text AS TIMESTAMPTZ) AS ts,
       CASE
           WHEN pre_reason IS NOT NULL THEN pre_reason
           WHEN NOT is_json THEN 'not JSON'
           WHEN root_type <> 'OBJECT' THEN 'not a JSON object (got ' || lower(root_type) || ')'
           WHEN message_id IS NULL THEN 'missing messageId'
           WHEN user_id IS NULL AND anonymous_id IS NULL THEN 'missing userId and anonymousId'
           WHEN type IS NULL THEN 'missing type'
           WHEN type NOT IN ('track', 'page', 'identify', 'group', 'screen', 'alias')
               THEN 'unknown type ' || left(type, 40)
           WHEN type = 'track' AND event IS NULL THEN 'track call without event'
           WHEN ts_text IS NULL THEN 'missing timestamp'
           WHEN TRY_CAST(ts_text AS TIMESTAMPTZ) IS NULL THEN 'unparseable timestamp ' || left(ts_text, 40)
           WHEN coalesce(properties_type, 'NULL') NOT IN ('OBJECT', 'NULL') THEN 'properties is not an object'
           WHEN coalesce(traits_type, 'NULL') NOT IN ('OBJECT', 'NULL') THEN 'traits is not an object'
           WHEN coalesce(context_type, 'NULL') NOT IN ('OBJECT', 'NULL') THEN 'context is not an object'
       END AS reason
FROM extracted;
