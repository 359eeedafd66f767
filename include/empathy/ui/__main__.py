"""``python -m empathy.ui refresh``: write the page's read model now, from the database as it is (the
pipeline does this at the end of every run; this is for a database loaded or changed by hand)."""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m empathy.ui", description=__doc__)
    parser.add_argument("command", choices=["refresh"])
    parser.parse_args(argv)
    from empathy import config, store, ui

    settings = config.load()
    with store.connect(settings) as con:
        latest = con.execute("SELECT run_id FROM pipeline_runs ORDER BY started_at DESC LIMIT 1").fetchall()
        figures = ui.refresh(con, settings, latest[0][0] if latest else None)
    print(json.dumps(figures))
    return 1 if "error" in figures else 0


if __name__ == "__main__":
    sys.exit(main())
