"""The outbox relay: claim pending actions, send them, record what happened.

Three steps so Airflow can keep database work (``claim``, ``record``: the one-writer DuckDB pool)
apart from network work (``send``: no database). ``deliver`` runs all three in one process.

Exactly once, as far as a sender without idempotency keys allows:
- ``claim`` takes rows that are ``pending`` (never tried, or claimed by a relay that crashed more
  than ``delivery_lease_s`` ago) or ``failed`` with attempts left, increments ``attempts`` and
  stamps them, so a concurrent relay leaves them alone for the lease.
- ``send`` writes a journal entry (``work/delivery-journal/<action_id>.json``) the moment a provider
  accepts a message; a re-claimed row with a journal entry is answered from it, not sent again.
- ``record`` sets the outcome only on rows still in flight: a ``sent`` row never changes back.
The remaining window: a crash after the provider accepted a message and before the journal
entry was written (microseconds), or a timeout whose request was in fact accepted, re-sends that
one action once on the next run. Both carry the ``action_id`` to the provider for tracing.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import pyarrow as pa

from empathy import fanout, store
from empathy.config import Settings
from empathy.content import emails
from empathy.delivery import preview
from empathy.delivery import sendgrid as sg_sender
from empathy.delivery import slack as slack_sender
from empathy.files import write_atomic

log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder().decode   # a claimed batch's details (an email's whole body): ~2x json.loads


def _connections():
    """``empathy.connections``, imported where a connection is first looked up: it imports Airflow (~3 s),
    which a preview's child process (``empathy.fanout``) never needs."""
    from empathy import connections

    return connections


KINDS = ("hold", "release", "slack_alert", "email")


# --- claim ------------------------------------------------------------------------------------
def _deliverable_window(settings: Settings, failed_before: datetime | None = None) -> dict:
    """The parameters of the `deliverable` macro (sql/schema/075_delivery.sql) as of now."""
    now = datetime.now(UTC)
    return {"max_attempts": settings.delivery_max_attempts,
            "stale_before": now - timedelta(seconds=settings.delivery_lease_s),
            "failed_before": failed_before or now + timedelta(days=1)}


def deliverable_counts(con, settings: Settings, scope: str = "") -> dict[str, int]:
    """How many actions of each kind a relay could claim now in ``scope`` (what the pipeline branches on)."""
    return dict(con.execute(
        "SELECT kind, count(*) FROM actions "
        "WHERE deliverable(status, attempts, updated_at, $max_attempts, $stale_before, $failed_before) "
        "AND scope = $scope GROUP BY kind", {**_deliverable_window(settings), "scope": scope}).fetchall())


def claim(con, settings: Settings, kinds=None, scope: str = "", limit: int | None = None,
          failed_before: datetime | None = None) -> list[dict]:
    """Claim up to ``limit`` (default ``delivery_batch``) deliverable actions of ``scope`` (oldest first) and
    return them as JSON-ready dicts. Rows whose earlier claim expired (a crash) are counted in the log.

    ``failed_before`` retries only failures recorded before that time (``deliver`` uses it so a row failing
    now waits for the next run instead of being hammered in a loop)."""
    kinds = list(kinds or KINDS)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown action kinds {sorted(unknown)}")
    window = _deliverable_window(settings, failed_before)
    with store.transaction(con):
        _give_up_stale(con, window, kinds)
        cur = store.run(con, "delivery/claim.sql", {**window, "kinds": kinds, "scope": scope,
                                                    "limit": int(limit or settings.delivery_batch)})
        rows = store.records(cur)
    for row in rows:
        row["detail"] = _decode(row["detail"]) if row["detail"] else {}
        for key, value in row.items():
            if isinstance(value, (datetime, date)):
                row[key] = value.isoformat()
    rows.sort(key=lambda r: (r["created_at"] or "", r["action_id"]))
    return rows


def stale_leases(con, settings: Settings, scope: str = "") -> int:
    """Actions claimed by a sending step that never recorded an outcome and whose lease ran out (it
    crashed): the next claim takes them again (the journal keeps a sent one from going twice), and the run
    report and the page show how many there were."""
    window = _deliverable_window(settings)
    return con.execute("SELECT count(*) FROM actions WHERE status = 'pending' AND attempts > 0 AND updated_at < ? "
                       "AND scope = ?", [window["stale_before"], scope]).fetchall()[0][0]


def apply_holds(con, settings: Settings, scope: str, mirrored: bool) -> dict:
    """Mark this scope's decided holds and releases applied, in bulk, and write their preview lines."""
    rows = store.run(con, "delivery/apply_holds.sql", {"scope": scope, "mirrored": mirrored,
                                                        "preview": str(settings.outbox / "holds.jsonl")}).fetchall()
    if rows:
        preview.holds(settings.outbox, [dict(zip(("action_id", "kind", "user_id", "account_id", "reason", "as_of",
                                                  "run_id", "simulate"), r)) for r in rows])
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        status = "simulated" if r[7] else "sent"
        counts.setdefault(r[1], {})[status] = counts.get(r[1], {}).get(status, 0) + 1
    return counts


def deliver_previews(con, settings: Settings, scope: str, kinds=None) -> dict:
    """The scope's deliverable actions of ``kinds`` (default all) as previews: a simulation's, or a live
    run's for channels with no connection (nothing leaves the machine, so no provider's pace applies: every
    one is previewed now).

    Set-based where the rows are: one claim of them all writes them to Parquet files of ``delivery_batch``
    rows (``claim_previews.sql``); ``bulk_processes`` child processes (``empathy.fanout``) each preview one
    file at a time and write its outcomes beside it; one statement records them all. No row passes
    through this process, and each child holds one batch. A crash before the record leaves the rows
    claimed: the next run takes them again once their lease ends, and writes the same previews."""
    kinds = list(kinds or KINDS)
    window = _deliverable_window(settings)
    folder = Path(tempfile.mkdtemp(prefix="previews-", dir=_work_folder(settings)))
    try:
        with store.transaction(con):
            _give_up_stale(con, window, kinds)
            claimed, n = store.run(con, "delivery/claim_previews.sql", {
                **window, "kinds": kinds, "scope": scope, "batch": max(1, int(settings.delivery_batch)),
                "folder": str(folder / "claimed")}).fetchone()
        if not claimed:
            return {}
        jobs = [str(folder / "claimed" / f"batch={i}") for i in range(n)]
        outcomes = [p for p in fanout.imap(preview_file, jobs, settings, settings.bulk_processes) if p]
        tally = record_files(con, outcomes)
        preview.write_index(settings.outbox)
        return _by_kind(tally)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _work_folder(settings: Settings) -> Path:
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    return settings.work_dir


def _give_up_stale(con, window: dict, kinds: list[str]) -> None:
    """Claimed rows that never got an outcome: the ones out of attempts fail, visibly (logged here)."""
    store.run(con, "delivery/give_up.sql", {"max_attempts": window["max_attempts"],
                                            "stale_before": window["stale_before"]}).fetchall()
    stale = con.execute("SELECT count(*) FROM _stale_leases WHERE list_contains(?, kind)", [kinds]).fetchall()[0][0]
    if stale:  # reported by the run report (stale_leases) too
        log.warning("%d action(s) were claimed by a sending step that never recorded (crashed?): "
                    "claimed again, the journal keeps a sent one from going twice", stale)


def preview_file(settings: Settings, folder: str) -> str | None:
    """One claimed batch's Parquet file previewed (no database: ``deliver_previews`` records it); the path
    of its outcomes' file beside it, or None when the folder holds no rows."""
    import pyarrow.parquet as pq

    files = sorted(Path(folder).glob("*.parquet"))
    if not files:
        return None
    rows = pa.concat_tables([pq.read_table(f) for f in files]).to_pylist()
    for row in rows:
        row["detail"] = _decode(row["detail"]) if row["detail"] else {}
        for key, value in row.items():
            if isinstance(value, (datetime, date)):
                row[key] = value.isoformat()
    rows.sort(key=lambda r: (r["created_at"] or "", r["action_id"]))
    outcomes = preview_batch(settings, rows)
    table = pa.Table.from_pylist([{k: o.get(k) for k in OUTCOME_FILE_SCHEMA.names} for o in outcomes],
                                 schema=OUTCOME_FILE_SCHEMA)
    path = str(Path(folder).with_name(Path(folder).name + ".outcomes.parquet"))
    pq.write_table(table, path)
    return path


def preview_batch(settings: Settings, rows: list[dict]) -> list[dict]:
    """One claimed batch previewed (no database: ``deliver_previews`` records it)."""
    return send(rows, settings, force_simulate=True, index=False)


def unconnected_kinds(settings: Settings) -> list[str]:
    """The kinds whose channel has no connection: delivering one is a preview, never a request."""
    kinds = []
    if _connections().get_connection(settings.slack_conn_id) is None:
        kinds.append("slack_alert")
    if _connections().sendgrid_info(settings.sendgrid_conn_id) is None:
        kinds.append("email")
    return kinds


# --- send -------------------------------------------------------------------------------------
def _journal_dir(settings: Settings) -> Path:
    return settings.work_dir / "delivery-journal"


def _journal_name(action_id: str) -> str:
    return f"{preview._safe_name(action_id)}.json"


def _journal_path(settings: Settings, action_id: str) -> Path:
    return _journal_dir(settings) / _journal_name(action_id)


def _journal_names(settings: Settings) -> set[str]:
    """The journal's entries, listed once per batch: most rows have none, and one listing costs less than
    a failed open per row. An entry for a claimed row can only predate the claim (its sender crashed)."""
    try:
        return set(os.listdir(_journal_dir(settings)))
    except FileNotFoundError:
        return set()


def _journal_read(settings: Settings, action_id: str, names: set[str] | None = None) -> dict | None:
    if names is not None and _journal_name(action_id) not in names:   # most rows: no path made
        return None
    path = _journal_path(settings, action_id)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return entry if entry.get("action_id") == action_id and entry.get("status") == "sent" else None


def _journal_write(settings: Settings, outcome: dict) -> None:
    path = _journal_path(settings, outcome["action_id"])
    outcome["journal"] = str(path)
    write_atomic(path, json.dumps(outcome), fsync=True)   # durable before the sender moves on


def _outcome(row, status, provider_id=None, preview_path=None, error=None) -> dict:
    # what the rewrite step changed before sending is kept with the row (what was sent); an email nothing
    # changed is not patched: rewriting its stored detail (the whole body) costs a checkpoint for nothing
    patch = row.get("detail_patch") if row["kind"] == "email" else None
    return {"action_id": row["action_id"], "kind": row["kind"], "status": status, "provider_id": provider_id,
            "preview_path": str(preview_path) if preview_path else None, "error": error,
            "detail_patch": json.dumps(patch) if patch else None}


class _Channels:
    """Clients made on first need (importing Airflow for a connection costs seconds)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._slack = self._sg_info = self._sg = None
        self._slack_done = self._sg_done = False
        self._lock = threading.Lock()

    def slack(self):
        with self._lock:
            return self._slack_client()

    def _slack_client(self):
        if not self._slack_done:
            s = self.settings
            self._slack = _connections().slack_client(s.slack_conn_id, s.delivery_timeout_s, s.delivery_retries)
            self._slack_done = True
        return self._slack

    def sendgrid(self):
        """(SendGridInfo, SendGridAPIClient), or (None, None) when not configured."""
        with self._lock:
            return self._sendgrid_client()

    def _sendgrid_client(self):
        if not self._sg_done:
            self._sg_info = _connections().sendgrid_info(self.settings.sendgrid_conn_id)
            if self._sg_info is not None:
                self._sg = sg_sender.client(self._sg_info, self.settings.delivery_timeout_s)
            self._sg_done = True
        return self._sg_info, self._sg


def _send_one(row: dict, settings: Settings, channels: _Channels, force_simulate: bool) -> dict:
    outbox = settings.outbox
    simulate = bool(row.get("simulate")) or force_simulate
    kind = row["kind"]
    d = row.get("detail") or {}

    if kind in ("hold", "release"):
        mode = "simulated" if simulate else "live"
        path = preview.hold(outbox, row, mode)
        if simulate:
            return _outcome(row, "simulated", preview_path=path)
        group = settings.sendgrid_hold_group_id
        email = d.get("to_email") or d.get("email")
        info, sg = channels.sendgrid() if group else (None, None)
        if group and sg is not None and email:
            sg_sender.mirror_hold(sg, group, email, kind == "hold", settings)
        return _outcome(row, "sent", preview_path=path)  # applied: the hold lives in user_state

    if kind == "slack_alert":
        channel = slack_sender.channel_for(row, settings.slack_fallback_channel)
        client = None if simulate else channels.slack()
        path = preview.slack_alert(outbox, row, channel, "live" if client else "simulated")
        if client is None:
            return _outcome(row, "simulated", preview_path=path)
        return _outcome(row, "sent", slack_sender.post(client, row, channel), path)

    if kind == "email":
        if not d.get("to_email"):
            return _outcome(row, "skipped", error="no email address for this user")
        if not d.get("text"):
            return _outcome(row, "skipped", error="email has no content")
        if not d.get("html"):  # made from the finished text: links only for our own URLs
            d["html"] = emails.html_page(d.get("subject") or "", d["text"],
                                         set(d.get("links") or []) | {d.get("unsubscribe_url") or ""})
        info, sg = (None, None) if simulate else channels.sendgrid()
        path = preview.email(outbox, row, "live" if sg else "simulated")
        if sg is None:
            return _outcome(row, "simulated", preview_path=path)
        if not info.from_email:
            return _outcome(row, "failed", preview_path=path,
                            error=f"connection {settings.sendgrid_conn_id} has no extra from_email")
        try:
            payload = sg_sender.build_mail(row, info, settings)
        except Exception as exc:  # noqa: BLE001 - the SDK's helpers refuse it: SendGrid would too
            return _outcome(row, "failed", preview_path=path, error=f"unsendable email: {type(exc).__name__}: {exc}")
        return _outcome(row, "sent", sg_sender.send(sg, payload, settings), path)

    return _outcome(row, "skipped", error=f"unknown kind {kind!r}")


def send(rows: list[dict], settings: Settings, force_simulate: bool = False, index: bool = True) -> list[dict]:
    """Deliver claimed rows (no database): one outcome per row, ``sent``/``failed``/``simulated``/``skipped``.

    Simulated when the row says so, ``force_simulate`` (backfill, dry run), or its channel has no
    connection: a preview is written to the outbox and nothing leaves the machine. ``index``: rebuild the
    outbox's index page after the batch (a caller sending many batches rebuilds it once, at the end).
    """
    channels = _Channels(settings)
    now = datetime.now(UTC).isoformat()
    journaled = _journal_names(settings)

    def deliver(row: dict) -> dict:
        return _deliver_row(row, settings, channels, force_simulate, now, journaled)

    # Only requests wait on the network. A preview (simulated, or no connection for the row's channel) is
    # Python and a file: in this thread, not contended for by the pool (2,000 previews: ~0.6 s against ~1 s).
    local = [force_simulate or bool(row.get("simulate")) or not _has_channel(row, settings, channels) for row in rows]
    remote = [row for row, here in zip(rows, local) if not here]
    with ThreadPoolExecutor(max(1, min(settings.delivery_concurrency, len(remote))),
                            thread_name_prefix="empathy-send") as pool:
        sent = pool.map(deliver, remote)
        done = {id(row): deliver(row) for row, here in zip(rows, local) if here}
        done.update(zip(map(id, remote), sent))
    outcomes = [done[id(row)] for row in rows]
    preview.note(settings.outbox, [o.pop("preview_entry") for o in outcomes if "preview_entry" in o])
    if rows and index:
        preview.write_index(settings.outbox)
    return outcomes


def _has_channel(row: dict, settings: Settings, channels: _Channels) -> bool:
    """Whether delivering this row makes a request (its channel has a connection). A connection that
    cannot be read counts as one: the row's own delivery then fails with the reason, as any failure does."""
    try:
        if row["kind"] == "slack_alert":
            return channels.slack() is not None
        if row["kind"] in ("hold", "release") and not settings.sendgrid_hold_group_id:
            return False
        return channels.sendgrid()[1] is not None
    except Exception:  # noqa: BLE001 - reported per row by _deliver_row
        return True


def _deliver_row(row: dict, settings: Settings, channels: _Channels, force_simulate: bool, now: str,
                 journal_names: set[str] | None = None) -> dict:
    # the truth for a real row (a simulated one was never sent: it has no journal)
    journaled = None if row.get("simulate") else _journal_read(settings, row["action_id"], journal_names)
    if journaled is not None:  # sent before a crash kept it from being recorded: never again
        log.info("action %s already sent (journal), not sending again", row["action_id"])
        return journaled
    try:
        outcome = _send_one(row, settings, channels, force_simulate)
    except (slack_sender.SlackDeliveryError, sg_sender.SendGridDeliveryError) as exc:
        outcome = _outcome(row, "failed", error=str(exc))
    except Exception as exc:  # a bug or bad row must not stop the batch; the row stays visible as failed
        log.exception("delivering action %s failed", row["action_id"])
        outcome = _outcome(row, "failed", error=f"{type(exc).__name__}: {exc}")
    if outcome["status"] == "sent":
        _journal_write(settings, outcome)
    if outcome["status"] != "skipped":
        outcome["preview_entry"] = preview.entry(  # noted by send() for the whole batch
            settings.outbox, row, outcome["preview_path"], "simulated" if outcome["status"] == "simulated" else outcome["status"], now)
    if outcome["status"] == "failed":
        log.warning("action %s (%s) failed: %s", row["action_id"], row["kind"], outcome["error"])
    return outcome


# --- record -----------------------------------------------------------------------------------
OUTCOME_SCHEMA = pa.schema([("action_id", pa.string()), ("status", pa.string()), ("provider_id", pa.string()),
                            ("preview_path", pa.string()), ("error", pa.string()), ("detail_patch", pa.string())])


def record(con, outcomes: list[dict]) -> int:
    """Write outcomes to ``actions``; returns how many rows changed. Settled rows (``sent``...) never change.

    Once committed, the outcomes' journal entries (``outcome["journal"]``) are no longer needed and go.
    """
    if not outcomes:
        return 0
    table = pa.Table.from_pylist([{k: o.get(k) for k in OUTCOME_SCHEMA.names} for o in outcomes],
                                 schema=OUTCOME_SCHEMA)
    with store.transaction(con):
        changed = store.run(con, "delivery/record.sql", relations={"delivery_outcomes": table}).fetchone()[0]
    for o in outcomes:
        if o.get("journal"):
            Path(o["journal"]).unlink(missing_ok=True)
    return int(changed)


OUTCOME_FILE_SCHEMA = pa.schema([*OUTCOME_SCHEMA, ("kind", pa.string()), ("journal", pa.string())])


def record_files(con, paths: list[str]) -> Counter:
    """``record`` for outcomes in Parquet files (a bulk preview's): one statement for them all, read where
    they lie. Returns the (kind, status) counts."""
    if not paths:
        return Counter()
    outcomes = con.read_parquet(paths)
    with store.transaction(con):
        store.run(con, "delivery/record.sql", relations={"delivery_outcomes": outcomes}).fetchall()
    con.register("_recorded", outcomes)
    try:
        tally = Counter({(k, s): n for k, s, n in con.execute(
            "SELECT kind, status, count(*) FROM _recorded GROUP BY ALL").fetchall()})
        journals = [j for (j,) in con.execute("SELECT journal FROM _recorded WHERE journal IS NOT NULL").fetchall()]
    finally:
        con.unregister("_recorded")
    for journal in journals:
        Path(journal).unlink(missing_ok=True)
    return tally


# --- all three ----------------------------------------------------------------------------------
def summarize(outcomes: list[dict]) -> dict:
    """Counts per kind and status: ``{"email": {"sent": 3, "simulated": 1}, ...}``."""
    return _by_kind(Counter((o["kind"], o["status"]) for o in outcomes))


def _by_kind(tally: Counter) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for (kind, status), n in tally.items():
        counts.setdefault(kind, {})[status] = n
    return counts
