-- The table macro validated_lines: every landed line (a relation of ingest/reader.py's SCHEMA) with either
-- its event or the reason it is rejected. The one place the rules live: the load and the quarantine use it.
-- The macro's arguments: lines (the relation's name), ts_min and ts_max (the accepted timestamps), raw_limit
-- (bytes of a rejected line kept for quarantine.raw).
-- reads: the relation named by its first argument
-- writes: temp macro validated_lines
-- takes:

-- An identifier as sent; empty or only whitespace is missing (trim runs only when it starts with whitespace).
CREATE OR REPLACE TEMP MACRO blank_is_null(x) AS CASE WHEN ascii(x) > 32 THEN x WHEN trim(x) <> '' THEN x END;

CREATE OR REPLACE TEMP MACRO validated_lines(lines, ts_min, ts_max, raw_limit) AS TABLE
WITH parsed AS (
    SELECT source_file, line_no, raw, pre_reason, pre_bytes, pre_sha256,
           CASE WHEN pre_reason IS NULL THEN try(from_json(raw, '{
               "messageId": "VARCHAR", "userId": "VARCHAR", "anonymousId": "VARCHAR", "type": "VARCHAR",
               "event": "VARCHAR", "name": "VARCHAR", "timestamp": "VARCHAR", "originalTimestamp": "VARCHAR",
               "sentAt": "VARCHAR", "receivedAt": "VARCHAR", "groupId": "VARCHAR",
               "properties": "JSON", "traits": "JSON", "context": "JSON"}')) END AS v
    FROM query_table(lines)
), fields AS (
    SELECT source_file, line_no, raw, pre_reason, pre_bytes, pre_sha256, v IS NULL AS unparsed,
           blank_is_null(v.messageId) AS message_id,
           blank_is_null(v.userId) AS user_id,
           blank_is_null(v.anonymousId) AS anonymous_id,
           v.type AS type,
           blank_is_null(v.event) AS event,
           v.name AS name,
           coalesce(v.timestamp, v.originalTimestamp, v.sentAt, v.receivedAt) AS ts_text,
           coalesce(v.groupId, CASE WHEN v.type <> 'group' AND contains(v.context, '"groupId"')
                                    THEN v.context->>'$.groupId' END) AS group_id,
           v.properties, v.traits, v.context  -- a JSON null is already NULL here
    FROM parsed
), judged AS (
    SELECT *,
        CASE
            WHEN pre_reason IS NOT NULL THEN pre_reason
            WHEN unparsed AND json_valid(raw) THEN 'not a JSON object (got null)'
            WHEN unparsed THEN 'not JSON'
            WHEN ascii(raw) <> 123 AND ascii(ltrim(raw)) <> 123 THEN 'not a JSON object (got ' || lower(json_type(raw)) || ')'
            WHEN message_id IS NULL THEN 'missing messageId'
            WHEN user_id IS NULL AND anonymous_id IS NULL THEN 'missing userId and anonymousId'
            WHEN type IS NULL THEN 'missing type'
            WHEN type NOT IN ('track', 'page', 'identify', 'group', 'screen', 'alias')
                THEN 'unknown type (' || left(type, 40) || ')'
            WHEN type = 'track' AND event IS NULL THEN 'track call without event'
            WHEN ts_text IS NULL THEN 'missing timestamp'
            WHEN ts IS NULL THEN 'unparseable timestamp (' || left(ts_text, 40) || ')'
            WHEN NOT isfinite(ts) OR ts < ts_min OR ts > ts_max
                THEN 'timestamp out of range (' || left(ts_text, 40) || '; accepted: '
                     || strftime(ts_min, '%Y-%m-%d %H:%M') || ' to ' || strftime(ts_max, '%Y-%m-%d %H:%M') || ' UTC)'
            WHEN ascii(properties) <> 123 THEN 'properties is not an object'
            WHEN ascii(traits) <> 123 THEN 'traits is not an object'
            WHEN ascii(context) <> 123 THEN 'context is not an object'
        END AS reason
    FROM (SELECT *, TRY_CAST(ts_text AS TIMESTAMPTZ) AS ts FROM fields)
)
SELECT source_file, line_no, message_id, user_id, anonymous_id, type, event, name, group_id, ts,
       properties, traits, context, reason,
       -- for a rejected line: a bounded prefix of it (bytes; a cut never splits a character), its length, its hash
       CASE WHEN reason IS NULL THEN NULL
            WHEN strlen(rtrim(raw, chr(13) || chr(10))) <= raw_limit THEN rtrim(raw, chr(13) || chr(10))
            WHEN strlen(left(raw, raw_limit)) <= raw_limit THEN left(raw, raw_limit)
            ELSE left(raw, raw_limit // 4) END AS raw,
       CASE WHEN reason IS NOT NULL THEN coalesce(pre_bytes, strlen(rtrim(raw, chr(10)))) END AS raw_bytes,
       CASE WHEN reason IS NOT NULL THEN coalesce(pre_sha256, sha256(rtrim(raw, chr(10)))) END AS raw_sha256
FROM judged;
