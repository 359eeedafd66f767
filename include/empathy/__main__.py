"""The command line: ``python -m empathy <command>``.

  score-text   one text per line on stdin -> one JSON object per line on stdout, with the configured scorer
  demo-data    write realistic demo journeys into the landing folder
  ingest       ingest the landing folder now (outside Airflow)
  summary      print what the database holds: ingest counts, states, actions
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
    from empathy import config, pipeline

    report = pipeline.ingest(config.load(), run_id="cli")
    print(json.dumps(report["totals"]))
    for error in report["errors"]:
        print(f"error: {error}", file=sys.stderr)
    return 0


def _summary(args) -> int:
    from empathy import config, pipeline

    result = pipeline.summary(config.load(), run_id=args.run_id)
    print(json.dumps(result, default=str, indent=2) if args.json else pipeline.format_summary(result))
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
    p = sub.add_parser("summary", help="print the database's summary")
    p.add_argument("--run-id", help="only this run's actions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_summary)
    sub.add_parser("settings", help="print every setting").set_defaults(func=_settings)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
