"""Background users at scale: many generated users (the templates' personas with random variation), for
`--users` and the benchmarks' `--events`. numpy draws every random choice, timestamp and UUID of a whole
file at once and each event is one `%` format of a pre-rendered template, so a million events take
seconds, not minutes.

Each file is one chunk of users with its own random stream (seeded by seed, start and chunk number), so
chunks are built in parallel and the bytes do not depend on the number of workers.
"""
from __future__ import annotations

import json
import math
import os
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from empathy.demo.catalog import HIGH_VALUE_MRR, LIB_JS, USER_AGENTS
from empathy.demo.files import default_start, stamp, write_atomically
from empathy.demo.templates import compiled_templates, mean_journey_length

_TZS = ("America/New_York", "America/Los_Angeles", "America/Chicago", "America/Sao_Paulo", "Europe/London",
        "Europe/Berlin", "Europe/Paris", "Africa/Lagos", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
        "Australia/Sydney", "UTC")
_FIRST = ("Ada", "Bo", "Chen", "Dev", "Eli", "Fatima", "Goran", "Hye", "Ines", "Jonas", "Kemi", "Luis", "Mina",
          "Noor", "Omar", "Pia", "Raj", "Sofia", "Tomás", "Yuki")
_LAST = ("Adams", "Berg", "Costa", "Diallo", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Kowalski",
         "Lopez", "Moreau", "Nakamura", "Olsen", "Patel", "Quinn", "Rossi", "Singh", "Weber")
_ASCII_FIRST = tuple(n.lower().replace("á", "a") for n in _FIRST)
_COMPANY_A = ("Blue", "North", "Bright", "Iron", "Quiet", "Rapid", "Silver", "Open", "Lucky", "Green")
_COMPANY_B = ("Labs", "Systems", "Works", "Analytics", "Cloud", "Foods", "Logistics", "Health", "Media", "Bank")
_PLANS = ("starter", "team", "business")

_ID_FMT = ('{"type":"identify","messageId":"%s","userId":"%s","timestamp":"%s","traits":%s,'
           '"context":{%s,"library":' + json.dumps(LIB_JS, separators=(",", ":")) + '}}')
_GROUP_FMT = ('{"type":"group","messageId":"%s","userId":"%s","timestamp":"%s","groupId":"%s","traits":%s,'
              '"context":{%s,"library":' + json.dumps(LIB_JS, separators=(",", ":")) + '}}')
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    """n random version-4 UUID strings from a seeded generator, vectorised."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[b >> 4]
    hexed[:, 1::2] = _HEX[b & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8], out[:, 9:13], out[:, 14:18] = hexed[:, 0:8], hexed[:, 8:12], hexed[:, 12:16]
    out[:, 19:23], out[:, 24:36] = hexed[:, 16:20], hexed[:, 20:32]
    s = out.tobytes().decode("ascii")
    return [s[i:i + 36] for i in range(0, 36 * n, 36)]


def _iso_array(ms: np.ndarray) -> list[str]:
    return np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC").tolist()


# --- one chunk of users: the draws below happen in this order, and that order is the file's bytes -----
def _journey_starts(rng, templates, t_of: np.ndarray, start_ms: int) -> np.ndarray:
    """Each journey starts somewhere in the last ~3 days and ends (at its longest) before `start`."""
    longest = np.array([2000 + sum(hi for _, hi, _ in steps) * 1000 for steps in templates], dtype=np.int64)
    room = np.maximum(72 * 3600_000 - longest, 3600_000)
    return start_ms - 60_000 - longest[t_of] - (rng.random(len(t_of)) * room[t_of]).astype(np.int64)


def _browser_contexts(rng, n_users: int) -> list[str]:
    """Each user's userAgent and ip, as the JSON members a browser call's context carries."""
    ua = rng.integers(0, len(USER_AGENTS), size=n_users)
    ip = rng.integers(1, 254, size=(n_users, 2))
    return [f'"userAgent":"{USER_AGENTS[a]}","ip":"198.18.{x}.{y}"' for a, (x, y) in zip(ua.tolist(), ip.tolist())]


def _accounts(rng, *, seed: int, first_user: int, n_users: int) -> tuple[list[int], list[str], list[str]]:
    """About four users per account; mrr log-normal (median ~400, ~20% high value with a manager id).
    Returns each user's account index, and each account's id and group traits (as JSON text)."""
    n_acc = max(1, n_users // 4)
    acc = rng.integers(0, n_acc, size=n_users)
    acc_ids = [f"bg-acct-{seed}-{first_user // 4 + a:06d}" for a in range(n_acc)]
    mrr = np.round(np.exp(rng.normal(6.0, 1.4, size=n_acc))).astype(int)
    # traits as string templates (every value is plain text without quotes): json.dumps per user is slow
    acc_traits = []
    for a, m in enumerate(mrr.tolist()):
        am = f',"account_manager_slack_id":"U0AM{(first_user // 4 + a) % 16**6:06X}"' if m >= HIGH_VALUE_MRR else ""
        acc_traits.append(f'{{"name":"{_COMPANY_A[a % 10]} {_COMPANY_B[(a // 10) % 10]} {first_user // 4 + a}",'
                          f'"mrr":{m}{am}}}')
    return acc.tolist(), acc_ids, acc_traits


def _identify_traits(rng, *, first_user: int, n_users: int) -> list[str]:
    """Each user's identify traits (JSON text): email, name, plan, timezone; 5% unsubscribed."""
    first = rng.integers(0, len(_FIRST), size=n_users).tolist()
    last = rng.integers(0, len(_LAST), size=n_users).tolist()
    tz = rng.integers(0, len(_TZS), size=n_users).tolist()
    unsub = (rng.random(n_users) < 0.05).tolist()
    return [f'{{"email":"{_ASCII_FIRST[f]}.{_LAST[ln].lower()}.{first_user + k}@example.com",'
            f'"name":"{_FIRST[f]} {_LAST[ln]}","plan":"{_PLANS[k % 3]}","timezone":"{_TZS[z]}"'
            + (',"unsubscribed":true}' if u else "}")
            for k, (f, ln, z, u) in enumerate(zip(first, last, tz, unsub))]


def _activity(rng, templates, t_of: np.ndarray, base: np.ndarray) -> list[tuple[np.ndarray, list]]:
    """Per template: its users, and per step (formats, the variant each user drew, each user's time)."""
    plans = []
    for ti, steps in enumerate(templates):
        members = np.flatnonzero(t_of == ti)
        if not len(members):
            continue
        k = len(members)
        t = base[members] + 2000
        columns = []
        prev_choice = prev_fmts = None
        for lo, hi, fmts in steps:
            t = t + rng.integers(int(lo * 1000), int(hi * 1000) + 1, size=k)
            if fmts == "same":  # rage: the previous click's element again (the same variant)
                choice, fmts = prev_choice, prev_fmts
            else:
                choice = rng.integers(0, len(fmts), size=k)
            columns.append((fmts, choice, t))
            prev_choice, prev_fmts = choice, fmts
        plans.append((members, columns))
    return plans


def _background_batch(rng: np.random.Generator, *, seed: int, first_user: int, n_users: int,
                      start_ms: int, compiled) -> tuple[np.ndarray, list[str]]:
    """Lines and their timestamps (ms) for users first_user .. first_user+n_users-1."""
    _names, probs, templates = compiled
    uids = [f"bg-{seed}-{i:07d}" for i in range(first_user, first_user + n_users)]
    t_of = rng.choice(len(templates), size=n_users, p=probs)
    base = _journey_starts(rng, templates, t_of, start_ms)
    ctx = _browser_contexts(rng, n_users)
    acc, acc_ids, acc_traits = _accounts(rng, seed=seed, first_user=first_user, n_users=n_users)
    id_traits = _identify_traits(rng, first_user=first_user, n_users=n_users)
    plans = _activity(rng, templates, t_of, base)
    mids = _uuids(rng, 2 * n_users + sum(len(members) * len(columns) for members, columns in plans))
    tickets = rng.integers(10_000, 99_999, size=n_users).tolist()

    # identify + group for everyone, a second apart, then the activity
    ts_id, ts_gr = _iso_array(base), _iso_array(base + 1000)
    lines = [_ID_FMT % (mids[k], uids[k], ts_id[k], id_traits[k], ctx[k]) for k in range(n_users)]
    lines += [_GROUP_FMT % (mids[n_users + k], uids[k], ts_gr[k], acc_ids[acc[k]], acc_traits[acc[k]], ctx[k])
              for k in range(n_users)]
    times = [base, base + 1000]
    mi = 2 * n_users
    for members, columns in plans:
        mem = members.tolist()
        for fmts, choice, t in columns:
            t = np.minimum(t, start_ms - 1000)  # strictly before start (a long template near start is clipped)
            rows = zip(mids[mi:mi + len(mem)], mem, _iso_array(t), choice.tolist())
            if any("@@" in f for f in fmts):  # ticket and invoice ids are per user
                lines += [(fmts[c] % (m, uids[u], ts, ctx[u])).replace("@@TICKET@@", f"T-{tickets[u]}")
                          .replace("@@INVOICE@@", f"INV-{tickets[u]}") for m, u, ts, c in rows]
            else:
                lines += [fmts[c] % (m, uids[u], ts, ctx[u]) for m, u, ts, c in rows]
            mi += len(mem)
            times.append(t)
    return np.concatenate(times), lines


# --- files --------------------------------------------------------------------------------------------
def _chunk_plan(n_users: int | None, n_events: int | None, events_per_file: int) -> list[tuple[int, int, int]]:
    """(first_user, n_users, max_events or 0) per file."""
    mean = mean_journey_length()
    plan = []
    if n_events is not None:
        stride = math.ceil(events_per_file / mean * 1.08) + 8  # enough users to fill a file
        for i, first in enumerate(range(0, n_events, events_per_file)):
            target = min(events_per_file, n_events - first)
            plan.append((i * stride, math.ceil(target / mean * 1.08) + 8, target))
    else:
        stride = max(1, int(events_per_file / mean))
        for first in range(0, n_users, stride):
            plan.append((first, min(stride, n_users - first), 0))
    return plan


def _chunk_job(job: tuple) -> tuple[str, int]:
    """Build one background file: users first..first+n, sorted by time, cut to max_events if set."""
    landing, name, seed, start_ms, no, first, n, max_events, compress = job
    rng = np.random.default_rng([seed, start_ms // 1000, 0xE4A7, no])
    t, lines = _background_batch(rng, seed=seed, first_user=first, n_users=n, start_ms=start_ms,
                                 compiled=compiled_templates())
    order = np.argsort(t, kind="stable")
    if max_events:
        if len(order) < max_events:
            raise RuntimeError(f"background chunk {no} made {len(order)} events, fewer than {max_events}")
        order = order[:max_events]  # the latest events of the last journeys are left out
    data = "\n".join([lines[i] for i in order.tolist()]).encode() + b"\n"
    return write_atomically(Path(landing) / name, data, compress).name, len(order)


def write_background(landing: Path, *, seed: int, start: datetime, n_users: int | None = None,
                     n_events: int | None = None, events_per_file: int = 100_000, compress: bool = False,
                     prefix: str | None = None, workers: int | None = None) -> dict:
    """`n_users` background users, or exactly `n_events` events, into files of `events_per_file`;
    built by `workers` spawned processes (default: one per core). Returns the files and event count."""
    prefix = prefix or f"demo-{stamp(start)}-s{seed}"
    start_ms = int(start.timestamp() * 1000)
    jobs = [(str(landing), f"{prefix}-background-{no:04d}.jsonl", seed, start_ms, no, first, n, cap, compress)
            for no, (first, n, cap) in enumerate(_chunk_plan(n_users, n_events, events_per_file), 1)]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the caller may hold threads (Airflow, DuckDB) that fork would copy mid-flight
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_chunk_job, jobs))
    else:
        results = [_chunk_job(j) for j in jobs]
    return {"files": [r[0] for r in results], "events": sum(r[1] for r in results)}


def generate_events(n_events: int, landing_dir, *, seed: int = 7, start: datetime | str | None = None,
                    events_per_file: int = 100_000, compress: bool = False, workers: int | None = None) -> dict:
    """Exactly `n_events` background events (for benchmarks), about ten per user, split into files.

    No personas and no hostile lines: every line is valid and unique, so a benchmark's loaded count
    must equal n_events.
    """
    t0 = time.perf_counter()
    landing = Path(landing_dir)
    landing.mkdir(parents=True, exist_ok=True)
    start = default_start(start)
    out = write_background(landing, seed=seed, start=start, n_events=n_events,
                           events_per_file=events_per_file, compress=compress,
                           prefix=f"bench-{stamp(start)}-s{seed}", workers=workers)
    out.update({"landing": str(landing), "seed": seed, "start": start.isoformat(),
                "seconds": round(time.perf_counter() - t0, 2)})
    return out
