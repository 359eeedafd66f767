"""`python -m empathy demo-data ...` (and `python -m empathy.demo ...`): the generator's own flags."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from empathy.demo.background import generate_events
from empathy.demo.expected import EXPECTED
from empathy.demo.landing import generate

DESCRIPTION = "Demo data: realistic customer journeys as Segment-spec JSON Lines, seeded and reproducible."


def main(argv: list[str] | None = None) -> int:
    """Write the demo (or, with --events, benchmark data) and print what was written; 0 on success."""
    p = argparse.ArgumentParser(prog="empathy demo-data", description=DESCRIPTION)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--home", help="EMPATHY_HOME; files go to HOME/landing (default: the configured home)")
    where.add_argument("--landing", help="write into this folder instead of HOME/landing")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", help="ISO time the demo ends at (default: now, floored to the hour)")
    p.add_argument("--users", type=int, default=0, help="add this many generated background users (~10 events each)")
    p.add_argument("--events", type=int, help="benchmark mode: write exactly this many background events only")
    p.add_argument("--per-file", type=int, default=100_000, help="background events per file")
    p.add_argument("--gzip", action="store_true", help="write .jsonl.gz")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = p.parse_args(argv)
    if a.landing:
        landing = Path(a.landing)
    else:
        from empathy import config

        landing = (Path(a.home).expanduser() if a.home else config.load().home) / "landing"
    if a.events:
        out = generate_events(a.events, landing, seed=a.seed, start=a.start, events_per_file=a.per_file,
                              compress=a.gzip)
        text = (f"wrote {out['events']:,} events in {len(out['files'])} files to {out['landing']} "
                f"in {out['seconds']} s")
    else:
        out = generate(landing, seed=a.seed, start=a.start, scale_users=a.users, compress=a.gzip,
                       events_per_file=a.per_file)
        text = "\n".join([
            (f"wrote {out['events']:,} events for {out['users']:,} users and {out['hostile_lines']} hostile lines "
            f"in {len(out['files'])} files to {out['landing']} ({out['seconds']} s)"),
            "personas (user ids -> expected state):",
            *(f"  {persona:<16} " + ", ".join(f"{u} -> {EXPECTED[u]['state']}" for u in uids)
              for persona, uids in out["personas"].items()),
        ])
    print(json.dumps(out, indent=2) if a.json else text)
    return 0
