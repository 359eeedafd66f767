-- Rage clicks: the same element (same path) clicked $rage_clicks+ times within $rage_window_s seconds.
-- A sliding window: click i starts a window when click i+(n-1) on that element is at most the window
-- later; windows that overlap are one burst. PostHog `$rageclick` and Mixpanel `$mp_rage_click` events are bursts already detected.
-- Fast clicks on different elements, or one element clicked slowly, are not rage.
-- reads: sig_events
-- writes: evidence rows: rage_clicks (user_id, signal, key, first_at, last_at, count, detail)
-- takes: $rage_clicks, $rage_window_s
WITH clicks AS (
    SELECT user_id, ts, coalesce(element, '?') AS element, coalesce(path, '') AS path,
           lead(ts, $rage_clicks - 1) OVER (PARTITION BY user_id, coalesce(element, '?'), coalesce(path, '')
                                            ORDER BY ts, message_id) AS nth_click_at
    FROM sig_events
    WHERE type = 'track' AND event = 'Element Clicked'
), windows AS (
    SELECT user_id, element, path, ts AS started_at, nth_click_at AS ended_at
    FROM clicks
    WHERE epoch(nth_click_at) - epoch(ts) <= $rage_window_s
), episodes AS (  -- windows that overlap are one burst: 12 clicks in 2 s are one burst, not ten
    SELECT *, coalesce(started_at > max(ended_at) OVER (PARTITION BY user_id, element, path ORDER BY started_at
                                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS starts
    FROM windows
), bursts AS (
    SELECT user_id, element, path, min(started_at) AS started_at, max(ended_at) AS ended_at
    FROM (SELECT *, sum(starts::INTEGER) OVER (PARTITION BY user_id, element, path ORDER BY started_at
                                               ROWS UNBOUNDED PRECEDING) AS burst FROM episodes)
    GROUP BY user_id, element, path, burst
    UNION ALL
    SELECT user_id, coalesce(element, '?'), coalesce(path, ''), ts, ts
    FROM sig_events
    WHERE type = 'track' AND event IN ('$rageclick', '$mp_rage_click')
)
SELECT user_id, 'rage_clicks' AS signal, element || ' @ ' || path AS key,
       min(started_at) AS first_at, max(ended_at) AS last_at, count(*) AS count,
       json_object('element', element, 'path', path, 'bursts', count(*),
                   'fastest_s', round(min(epoch(ended_at) - epoch(started_at)), 1)) AS detail
FROM bursts
GROUP BY user_id, element, path
