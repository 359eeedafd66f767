-- One run: its row, what it decided by kind, status and simulation, the reasons in words, and what it
-- considered and did not do (each reason folded: alike reasons count together).
-- reads: runs, actions, decisions (read model), folded (macro)
-- writes: nothing
-- takes: $run_id
SELECT r.*,
       (SELECT list({'kind': kind, 'status': status, 'simulation': simulation, 'n': n} ORDER BY kind, status, simulation)
        FROM (SELECT kind, status, simulation, count(*) AS n FROM actions WHERE run_id = $run_id GROUP BY ALL)) AS decided,
       (SELECT list({'kind': kind, 'status': status, 'reason': reason, 'n': n} ORDER BY n DESC, kind, reason)[1:30]
        FROM (SELECT kind, status, folded(reason) AS reason, count(*) AS n
              FROM actions WHERE run_id = $run_id GROUP BY ALL)) AS reasons,
       (SELECT list({'kind': kind, 'outcome': outcome, 'reason': reason, 'n': n} ORDER BY n DESC, kind, reason)[1:30]
        FROM (SELECT kind, outcome, folded(reason) AS reason, count(*) AS n
              FROM decisions WHERE run_id = $run_id GROUP BY ALL)) AS not_done
FROM runs r WHERE r.run_id = $run_id;
