"""The Empathy page in the Airflow UI: every user's state with the evidence behind it, every decision with
a link to its preview, and why input lines were quarantined. "Empathy" in the navigation, served at /empathy/.

- Reads ``$EMPATHY_OUTBOX_DIR/snapshot.json`` (written by ``empathy.snapshot.write_snapshot`` in the
  pipeline's summary task), never empathy.duckdb: DuckDB allows one process per file, and the
  api-server must not fight the pipeline for it.
- Every route requires an Airflow login (the JWT cookie the UI sets, or ``Authorization: Bearer``) with
  read access to the ``empathy_pipeline`` DAG, checked by Airflow's own ``requires_access_dag``.
- Cheap to import and never breaks Airflow: every process that loads plugins imports this module, so
  FastAPI, Jinja2 and the auth machinery are imported on the first request, inside the api-server.
- Customer text (ticket excerpts in the evidence) is untrusted: rendered with Jinja autoescape, and
  previews are served with a ``sandbox`` Content-Security-Policy so nothing in them can run.
"""
import json
import os
from pathlib import Path
from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/empathy"
PIPELINE_DAG_ID = "empathy_pipeline"  # who may read this DAG may read the page
SNAPSHOT_NAME = "snapshot.json"       # empathy.snapshot.SNAPSHOT_NAME (not imported: keep this module light)
DEFAULT_USERS_SHOWN = 200

STATE_MEANING = {
    "at_risk": "about to leave",
    "frustrated": "something is broken for them, now",
    "confused": "stuck, not leaving",
    "delighted": "happy",
    "exploring": "normal, active",
}


def outbox_dir() -> Path:
    """Where previews and the snapshot live: the product's setting, or the same env vars without it."""
    try:
        from empathy import config

        return config.load().outbox
    except (ImportError, ValueError):  # no empathy package in this process, or a bad value: the env vars
        if os.environ.get("EMPATHY_OUTBOX_DIR"):
            return Path(os.environ["EMPATHY_OUTBOX_DIR"])
        return Path(os.environ.get("EMPATHY_HOME", "data")) / "outbox"


def load_snapshot(outbox: Path) -> tuple[dict | None, str | None]:
    """(snapshot, None), or (None, why there is nothing to show)."""
    path = outbox / SNAPSHOT_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, (f"No snapshot yet at {path}. It is written at the end of every empathy_pipeline run "
                      "(the summary task): trigger the DAG, or run `make demo`, then reload this page.")
    except (OSError, ValueError) as exc:
        return None, f"The snapshot at {path} could not be read ({type(exc).__name__}: {exc})."
    if not isinstance(doc, dict):
        return None, f"The snapshot at {path} is not a JSON object."
    return doc, None


def safe_outbox_file(outbox: Path, rel: str) -> Path | None:
    """The file ``rel`` inside the outbox, or None: no ``..``, absolute paths, symlinks out, or hidden files."""
    root = outbox.resolve()
    if not rel or rel.startswith(("/", "\\")) or any(part.startswith(".") for part in Path(rel).parts):
        return None
    target = (root / rel).resolve()
    if root not in target.parents or not target.is_file():
        return None
    return target


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Empathy</title>
<style>
 body{font-family:system-ui,sans-serif;margin:16px 20px;color:#1d1d1f}
 h1{margin:0 0 4px} h2{margin:28px 0 8px} .muted{color:#666;font-size:13px}
 table{border-collapse:collapse;font-size:13px;width:100%} th,td{padding:4px 8px;text-align:left;vertical-align:top}
 th{border-bottom:2px solid #ddd} tr:nth-child(even){background:#f6f6f8}
 .state{font-weight:600;white-space:nowrap} .at_risk{color:#b00020} .frustrated{color:#c25e00}
 .confused{color:#8a6d00} .delighted{color:#1b7f3b} .exploring{color:#555}
 ul.ev{margin:0;padding-left:16px} ul.ev li{margin:1px 0} .sig{font-family:monospace;color:#555}
 .hold{background:#ffe9c2;padding:0 4px;border-radius:3px} .box{background:#f6f6f8;padding:12px 16px}
 a{color:#0b57d0} form{margin:8px 0}
</style></head><body>
<h1>Empathy</h1>
{% if not snap %}
<p class="box">{{ problem }}</p>
<p class="muted">This page shows a snapshot of Empathy's user states, decisions and quarantine, refreshed after
each pipeline run. It never opens the DuckDB database itself.</p>
{% else %}
<p class="muted">Snapshot of {{ snap.generated_at|when }} UTC{% if snap.run_id %}, run <code>{{ snap.run_id }}</code>{% endif %}
 &middot; {{ snap.totals.users }} users, {{ snap.totals.actions }} actions, {{ snap.totals.quarantined }} quarantined lines
 &middot; refreshed after each empathy_pipeline run.</p>

<h2>States</h2>
<table><tr><th>state</th><th>meaning</th><th>users</th><th>on hold</th></tr>
{% for s in snap.states %}<tr><td class="state {{ s.state }}"><a href="?state={{ s.state|urlencode }}">{{ s.state }}</a></td>
<td>{{ meaning.get(s.state, '') }}</td><td>{{ s.users }}</td><td>{{ s.on_hold }}</td></tr>
{% else %}<tr><td colspan="4">No user has a state yet.</td></tr>{% endfor %}
</table>

<h2>Users{% if state %}: {{ state }}{% endif %}{% if user %}: {{ user }}{% endif %}</h2>
<form method="get"><input name="user" placeholder="user id" value="{{ user or '' }}">
<select name="state"><option value="">any state</option>{% for s in meaning %}
<option value="{{ s }}" {{ 'selected' if s == state else '' }}>{{ s }}</option>{% endfor %}</select>
<button>Show</button> {% if state or user %}<a href="{{ root }}/">all users</a>{% endif %}</form>
<p class="muted">Most negative first. Showing {{ users|length }} of {{ users_matching }}{% if users_matching < snap.totals.users %}
 matching{% endif %}{% if snap.users|length < snap.totals.users %} (the snapshot keeps the {{ snap.users|length }} most negative){% endif %}.
{% if users|length < users_matching %}<a href="?state={{ state or '' }}&user={{ user or '' }}&limit={{ users_matching }}">show all</a>{% endif %}</p>
<table><tr><th>user</th><th>account</th><th>state</th><th>sentiment</th><th>confidence</th><th>intents</th><th>why (evidence)</th><th>updated (UTC)</th></tr>
{% for u in users %}<tr>
<td><a href="?user={{ u.user_id|urlencode }}">{{ u.user_id }}</a></td>
<td>{{ u.account_name or u.account_id or '' }}{% if u.mrr %}<br><span class="muted">mrr {{ '{:,.0f}'.format(u.mrr) }}</span>{% endif %}</td>
<td class="state {{ u.state }}">{{ u.state }}{% if u.on_hold %} <span class="hold">on hold</span>{% endif %}</td>
<td>{{ '%.2f'|format(u.sentiment) }}</td><td>{{ '%.2f'|format(u.confidence) }}</td>
<td>{{ (u.intents or [])|join(', ') }}</td>
<td><ul class="ev">{% for r in u.reasons %}<li>{% if r is mapping %}<span class="sig">{{ r.signal }}</span> {{ r.detail }}{% if r.at %} <span class="muted">{{ r.at|when }}</span>{% endif %}{% else %}{{ r }}{% endif %}</li>{% endfor %}</ul>
<span class="muted">scorer {{ u.scorer }}</span></td>
<td class="muted">{{ u.updated_at|when }}</td></tr>
{% else %}<tr><td colspan="8">No users match.</td></tr>{% endfor %}
</table>

<h2>Actions{% if user %} for {{ user }}{% endif %}</h2>
<p class="muted">Newest first{% if snap.actions|length < snap.totals.actions %} (the latest {{ snap.actions|length }} of {{ snap.totals.actions }}){% endif %}.
Simulated ones never left the machine; their previews show what would have been sent.</p>
<table><tr><th>created (UTC)</th><th>kind</th><th>status</th><th>user</th><th>why</th><th>what</th><th>preview</th></tr>
{% for a in actions %}<tr><td class="muted">{{ a.created_at|when }}</td><td>{{ a.kind }}</td>
<td>{{ a.status }}{% if a.last_error %}<br><span class="muted">{{ a.last_error }}</span>{% endif %}</td>
<td><a href="?user={{ a.user_id|urlencode }}">{{ a.user_id }}</a></td><td>{{ a.reason }}</td>
<td>{% if a.detail.subject %}{{ a.detail.subject }}{% endif %}{% if a.detail.channel %}{{ a.detail.channel }}{% endif %}
{% if a.detail.tone or a.detail.category %}<br><span class="muted">{{ a.detail.category or '' }}{% if a.detail.tone %} / tone {{ a.detail.tone }}{% endif %}</span>{% endif %}</td>
<td>{% if a.preview_path %}<a href="{{ root }}/outbox/{{ a.preview_path|urlencode }}" target="_blank" rel="noopener">open</a>{% endif %}</td></tr>
{% else %}<tr><td colspan="7">No actions.</td></tr>{% endfor %}
</table>

<h2>Quarantine</h2>
<table><tr><th>reason</th><th>lines</th></tr>
{% for q in snap.quarantine %}<tr><td>{{ q.reason }}</td><td>{{ q.lines }}</td></tr>
{% else %}<tr><td colspan="2">No quarantined lines.</td></tr>{% endfor %}
</table>
{% endif %}
</body></html>
"""

_template = None


def render_page(snap: dict | None, problem: str | None, root: str, state: str | None = None,
                user: str | None = None, limit: int = DEFAULT_USERS_SHOWN) -> str:
    """The page's HTML (autoescaped: customer text in the evidence is data, never markup)."""
    global _template
    if _template is None:
        from jinja2 import Environment

        env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
        env.filters["when"] = lambda v: str(v)[:16].replace("T", " ") if v else ""  # ISO, UTC: to the minute
        _template = env.from_string(PAGE)
    users, actions, matching = [], [], 0
    if snap:
        users = [u for u in snap.get("users") or []
                 if (not state or u.get("state") == state) and (not user or u.get("user_id") == user)]
        matching = len(users)
        users = users[:max(1, limit)]
        actions = [a for a in snap.get("actions") or [] if not user or a.get("user_id") == user]
        snap = {"totals": {}, "states": [], "users": [], "actions": [], "quarantine": [], **snap}
        for key in ("users", "actions", "quarantined"):
            snap["totals"].setdefault(key, 0)
    return _template.render(snap=snap, problem=problem, root=root, state=state, user=user, users=users,
                            users_matching=matching, actions=actions, meaning=STATE_MEANING)


def _airflow_auth():
    """Airflow's own check: a valid Airflow JWT (cookie or bearer) whose user may read the pipeline DAG."""
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return requires_access_dag("GET", param_dag_id=PIPELINE_DAG_ID)


def create_app(outbox: Path | None = None, auth: bool = True):
    """The FastAPI app mounted at /empathy. ``outbox`` defaults to the setting, read on each request."""
    # No `from __future__ import annotations` in this module: FastAPI must see the real Request class in
    # the route signatures below, which import it locally.
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.responses import FileResponse, HTMLResponse

    dependencies = [Depends(_airflow_auth())] if auth else []
    app = FastAPI(title="Empathy", docs_url=None, redoc_url=None, openapi_url=None, dependencies=dependencies)

    def _outbox() -> Path:
        return outbox if outbox is not None else outbox_dir()

    @app.exception_handler(HTTPException)
    async def _explain(request: Request, exc: HTTPException):
        from fastapi.responses import HTMLResponse as _H
        from markupsafe import escape

        hint = " Sign in to Airflow first (open <a href=\"/\">the Airflow UI</a>), then come back." \
            if exc.status_code in (401, 403) else ""
        return _H(f"<!doctype html><title>Empathy</title><p>{exc.status_code}: {escape(exc.detail)}.{hint}</p>",
                  status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, state: str | None = None, user: str | None = None,
             limit: int = Query(DEFAULT_USERS_SHOWN, ge=1)):
        snap, problem = load_snapshot(_outbox())
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(render_page(snap, problem, root, state or None, user or None, limit),
                            headers={"Cache-Control": "no-store"})

    @app.get("/outbox/{rel:path}")
    def outbox_file(rel: str):
        target = safe_outbox_file(_outbox(), rel)
        if target is None:
            raise HTTPException(status_code=404, detail="no such preview")
        media = {".html": "text/html", ".json": "application/json", ".jsonl": "text/plain"}.get(target.suffix)
        return FileResponse(target, media_type=media, headers={
            "Content-Security-Policy": "sandbox; script-src 'none'",  # previews hold untrusted text: never run
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    return app


class _LazyApp:
    """ASGI app that builds the FastAPI app on its first request, so importing this plugin costs nothing
    in the scheduler, workers and DAG processor, and a problem surfaces as a page error, not a failed start."""

    def __init__(self):
        self._app = None

    async def __call__(self, scope, receive, send):
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)


class EmpathyPlugin(AirflowPlugin):
    name = "empathy"
    fastapi_apps: ClassVar[list] = [{"app": _LazyApp(), "url_prefix": URL_PREFIX, "name": "Empathy"}]
    external_views: ClassVar[list] = [{
        "name": "Empathy",
        "href": f"{URL_PREFIX}/",
        "url_route": "empathy",   # shown inside the Airflow UI (an iframe), at /plugin/empathy
        "destination": "nav",     # no category: a top-level entry in the navigation
    }]
