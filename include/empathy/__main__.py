"""The command line: ``python -m empathy <command>``.

  score-text   one text per line on stdin -> one JSON object per line on stdout, with the configured scorer
  demo-data    write realistic demo journeys into the landing folder
  ingest       ingest the landing folder now (outside Airflow)
  summary      what a run did, in words (the latest run; --run-id for another; --json for the database)
  settings     print every setting (Markdown table: the README's)
"""
from __future__ import annotations

import argparse
import json
import sys


def _score_text(args) -> int:
    from empathy import config
    from empathy.scoring import get_scorer, score_text_lines

    out, sys.stdout = sys.stdout, sys.stderr  # stdout carries only results: library logs go to stderr
    try:
        scorer = get_scorer(config.load({"scorer": args.scorer} if args.scorer else None))
        for line in score_text_lines((line.rstrip("\n") for line in sys.stdin), scorer):
            out.write(line + "\n")
        out.flush()
    finally:
        sys.stdout = out
    return 0


def _demo_data(argv: list[str]) -> int:
    from empathy import demo

    return demo.main(argv) or 0


def _ingest(args) -> int:
    from empathy import config, store
    from empathy.ingest import ingest_landing

    with store.connect(config.load()) as con:
        report = ingest_landing(con, config.load(), run_id="cli").as_dict()
    print(json.dumps(report["totals"]))
    for error in report["errors"]:
        print(f"error: {error}", file=sys.stderr)
    return 0


def _summary(args) -> int:
    """One run's report (the latest when no --run-id), or the whole database with --json."""
    from empathy import config, report, store

    with store.connect(config.load(), read_only=True) as con:
        if args.json:
            print(json.dumps(report.database_summary(con), default=str, indent=2))
            return 0
        run_id = args.run_id or next(iter(con.execute(
            "SELECT run_id FROM pipeline_runs ORDER BY updated_at DESC LIMIT 1").fetchall()), [None])[0]
        print(report.run_report(con, run_id) if run_id else "Empathy: no run yet (make demo, or make run).")
    return 0


def _settings(args) -> int:
    from empathy.config import settings_table

    print(settings_table())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "demo-data":  # the generator owns its flags
        return _demo_data(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m empathy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("score-text", help="score stdin lines")
    p.add_argument("--scorer", choices=["lexicon", "openai"], help="default: EMPATHY_SCORER")
    p.set_defaults(func=_score_text)
    sub.add_parser("demo-data", help="write demo journeys (see: demo-data --help)")
    sub.add_parser("ingest", help="ingest the landing folder now").set_defaults(func=_ingest)
    p = sub.add_parser("summary", help="what a run did, in words (default: the latest run)")
    p.add_argument("--run-id", help="this run's report")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_summary)
    sub.add_parser("settings", help="print every setting").set_defaults(func=_settings)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
