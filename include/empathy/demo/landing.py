"""The whole demo into a landing folder: the personas' journeys (one file per UTC day, like a daily
export), the hostile file, and any background users. File names carry the start and the seed, so the
same pair rewrites the same files and a later hour lands new ones."""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from empathy.demo.background import write_background
from empathy.demo.expected import EXPECTED, PERSONAS
from empathy.demo.files import default_start, stamp, write_atomically
from empathy.demo.hostile import hostile_lines
from empathy.demo.journey import World
from empathy.demo.personas import write_personas


def _journey_files(landing: Path, prefix: str, events: list[dict], compress: bool) -> tuple[list[str], int]:
    """The personas' events in time order, one file per UTC day; returns the file names and event count."""
    by_day: dict[str, list[dict]] = {}
    for ev in sorted(events, key=lambda e: datetime.fromisoformat(e["timestamp"])):
        by_day.setdefault(datetime.fromisoformat(ev["timestamp"]).strftime("%Y%m%d"), []).append(ev)
    names = []
    for day, evs in sorted(by_day.items()):
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in evs).encode()
        names.append(write_atomically(landing / f"{prefix}-journeys-{day}.jsonl", data, compress).name)
    return names, sum(len(evs) for evs in by_day.values())


def _hostile_file(landing: Path, prefix: str, world: World) -> tuple[str, int]:
    """The quarantine demo (never compressed); its duplicate is User B's first failed payment."""
    duplicate = next(e for e in world.events if e.get("event") == "Payment Failed")
    cases = hostile_lines(world, duplicate)
    data = b"".join(raw + b"\n" for _, raw in cases)
    name = write_atomically(landing / f"{prefix}-quarantine-demo.jsonl", data, False).name
    return name, sum(1 for _, raw in cases if raw.strip())


def generate(landing_dir, *, seed: int = 7, start: datetime | str | None = None, scale_users: int = 0,
             files=("journeys", "hostile"), compress: bool = False,
             events_per_file: int = 100_000) -> dict:
    """Write the demo into `landing_dir`; return what was written.

    files: which parts to write - "journeys" (the personas, one file per UTC day) and/or "hostile"
    (lines for the quarantine). scale_users adds that many generated background users (about ten
    events each). start: the end of the demo's time range (default: now, floored to the hour);
    every event is before it, most in the last three days.
    """
    t0 = time.perf_counter()
    landing = Path(landing_dir)
    landing.mkdir(parents=True, exist_ok=True)
    start = default_start(start)
    prefix = f"demo-{stamp(start)}-s{seed}"
    world = World(seed, start)
    write_personas(world)  # always: the hostile lines draw from the same random stream after them
    written: list[str] = []
    good_events = 0
    if "journeys" in files:
        written, good_events = _journey_files(landing, prefix, world.events, compress)
    hostile = 0
    if "hostile" in files:
        name, hostile = _hostile_file(landing, prefix, world)
        written.append(name)
    background = {}
    if scale_users:
        background = write_background(landing, seed=seed, start=start, n_users=scale_users,
                                      events_per_file=events_per_file, compress=compress, prefix=prefix)
        written += background["files"]
        good_events += background["events"]
    return {
        "landing": str(landing), "seed": seed, "start": start.isoformat(), "files": written,
        "events": good_events, "hostile_lines": hostile, "users": len(EXPECTED) + scale_users,
        "personas": {p: list(u) for p, u in PERSONAS.items()},
        "background_users": scale_users, "background_events": background.get("events", 0),
        "seconds": round(time.perf_counter() - t0, 2),
    }
