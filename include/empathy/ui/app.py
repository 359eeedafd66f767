"""The Empathy page: a FastAPI app the Airflow plugin mounts at /empathy (behind Airflow's own login).

Server-rendered HTML from Jinja templates (``templates/``), charts as SVG, no JavaScript: every page works
in any browser, and a Content-Security-Policy forbids scripts outright. Pages read the read model
(``empathy.ui.reader``), never empathy.duckdb. Every customer value is redacted and escaped.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from urllib.parse import quote, urlencode

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from empathy.config import Settings
from empathy.ui import pages, previews, slack_html, words
from empathy.ui.reader import NotReady, ReadModel

log = logging.getLogger(__name__)

PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'self'; base-uri 'none'")
PREVIEW_CSP = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def _when(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value or "")[:16].replace("T", " ")


def _environment(redactor: words.Redactor) -> Environment:
    env = Environment(loader=PackageLoader("empathy.ui", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        when=_when,
        shown=lambda v, limit=words.TEXT_LIMIT: "" if v is None else redactor.text(str(v), (), limit),
        urlpart=lambda v: quote(str(v), safe=""),
        urlpath=lambda v: quote(str(v), safe="/"),
        num=lambda v, digits=0: "" if v is None else f"{float(v):,.{digits}f}",
        pct=lambda v, digits=0: "" if v is None else f"{float(v) * 100:.{digits}f}%",
        signed=lambda v, digits=2: "" if v is None else f"{float(v):+.{digits}f}",
        pretty=lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str),
    )
    env.globals.update(words=pages.WORDS, states=pages.STATES, sorts=pages.SORTS)
    return env


def create_app(settings: Settings | None = None, dependencies: list | None = None,
               login_url: Callable[[str], str] | None = None) -> FastAPI:
    """The page's app. ``settings`` default to the environment's; ``dependencies`` guard every route (the
    plugin passes Airflow's own access check) and ``login_url(next)`` is where a visitor signs in."""
    if settings is None:
        from empathy import config

        settings = config.load()
    redactor = words.redactor(settings.ui_redact_cache)
    model = ReadModel(settings.ui_path, settings.ui_memory_mb)
    env = _environment(redactor)
    app = FastAPI(title="Empathy", docs_url=None, redoc_url=None, openapi_url=None, dependencies=dependencies or [])
    threading.Thread(target=_warm_up, name="empathy-ui-warm-up", daemon=True).start()

    def render(request: Request, template: str, http_status: int = 200, **context) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")

        def link(path: str = "", **params) -> str:
            query = urlencode({k: v for k, v in params.items() if v not in (None, "") and not (k == "page" and v == 1)})
            return f"{root}{path}" + (f"?{query}" if query else "")

        started = request.state.started if hasattr(request.state, "started") else time.perf_counter()
        html = env.get_template(template).render(root=root, link=link, request=request, **context)
        headers = {**HEADERS, "Content-Security-Policy": PAGE_CSP,
                   "Server-Timing": f"page;dur={(time.perf_counter() - started) * 1000:.1f}"}
        return HTMLResponse(html, status_code=http_status, headers=headers)

    def snapshot():
        try:
            return model.snapshot()
        except NotReady as exc:
            raise _NotReady(str(exc)) from None

    @app.middleware("http")
    async def _timer(request: Request, call_next):
        request.state.started = time.perf_counter()
        return await call_next(request)

    @app.exception_handler(_NotReady)
    async def _not_ready(request: Request, exc: _NotReady):
        return render(request, "not_ready.html", http_status=200, problem=str(exc), home=str(settings.ui_path))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        login = None
        if exc.status_code in (401, 403):
            login = login_url(str(request.url)) if login_url else "/"
        return render(request, "error.html", http_status=exc.status_code, status_code=exc.status_code,
                      detail=str(exc.detail), login=login)

    def paging(page: int) -> pages.Paging:
        return pages.Paging(page, settings.ui_page_size)

    def sign(direction: str) -> int:
        return 1 if direction == "asc" else -1

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, q: str = Query("", max_length=200), state: str = "", sort: str = "risk",
                 dir: str = "", page: int = Query(1, ge=1, le=100_000)):
        snap = snapshot()
        direction = dir or ("asc" if sort in ("risk", "sentiment", "user") else "desc")
        data = pages.overview(snap, q, state, sort, sign(direction), paging(page))
        return render(request, "overview.html", snap=snap, q=q, state=state, sort=sort, dir=direction, page=page, **data)

    @app.get("/users/{user_id:path}", response_class=HTMLResponse)
    def user(request: Request, user_id: str, page: int = Query(1, ge=1, le=100_000)):
        snap = snapshot()
        data = pages.user(snap, user_id, paging(page), settings.outbox, redactor.data)
        if data is None:
            raise HTTPException(404, f"no user {user_id!r} in Empathy's states")
        return render(request, "user.html", snap=snap, page=page, **data)

    @app.get("/accounts/{account_id:path}", response_class=HTMLResponse)
    def account(request: Request, account_id: str, sort: str = "risk", dir: str = "",
                page: int = Query(1, ge=1, le=100_000)):
        snap = snapshot()
        direction = dir or ("asc" if sort in ("risk", "sentiment", "user") else "desc")
        data = pages.account(snap, account_id, sort, sign(direction), paging(page), settings.ui_trend_days)
        if data is None:
            raise HTTPException(404, f"no account {account_id!r} among Empathy's users")
        return render(request, "account.html", snap=snap, sort=sort, dir=direction, page=page, **data)

    @app.get("/runs", response_class=HTMLResponse)
    def run_list(request: Request, page: int = Query(1, ge=1, le=100_000)):
        snap = snapshot()
        return render(request, "runs.html", snap=snap, page=page, **pages.runs(snap, paging(page)))

    @app.get("/runs/{run_id:path}", response_class=HTMLResponse)
    def run(request: Request, run_id: str, kind: str = "", status: str = "", page: int = Query(1, ge=1, le=100_000)):
        snap = snapshot()
        data = pages.run(snap, run_id, kind, status, paging(page))
        if data is None:
            raise HTTPException(404, f"no record of run {run_id!r} (it has not reached its first stage, or "
                                     "the page has not been refreshed since)")
        return render(request, "run.html", snap=snap, kind=kind, status=status, page=page, **data)

    @app.get("/uplift", response_class=HTMLResponse)
    def uplift(request: Request):
        snap = snapshot()
        return render(request, "uplift.html", snap=snap, holdout_pct=settings.holdout_pct, **pages.uplift_page(snap))

    @app.get("/outbox/{rel:path}")
    def outbox_file(request: Request, rel: str, format: str = ""):
        target = previews.safe_file(settings.outbox, rel)
        if target is None or target.suffix not in (".html", ".json", ".jsonl"):
            raise HTTPException(404, "no such preview")
        if target.suffix == ".json":
            doc = pages.load_slack(target, redactor.data)
            if doc is None:
                raise HTTPException(404, "this preview could not be read")
            if format == "json":
                return JSONResponse(doc, headers={**HEADERS, "Content-Security-Policy": PREVIEW_CSP})
            return render(request, "slack_preview.html", doc=doc, rel=rel, raw=json.dumps(doc, indent=2, ensure_ascii=False),
                          blocks=slack_html.blocks_html(doc.get("blocks")), text=slack_html.mrkdwn(doc.get("text")),
                          links=slack_html.links(doc.get("blocks")), user_id=_user_of(doc, model))
        headers = {**HEADERS, "Content-Security-Policy": PREVIEW_CSP}
        if target.suffix == ".jsonl":
            return PlainTextResponse(redactor.text(previews.read_tail(target), (), previews.MAX_TAIL_BYTES),
                                     headers=headers)
        return HTMLResponse(redactor.text(previews.read_bounded(target), (), previews.MAX_PREVIEW_BYTES), headers=headers)

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    return app


def _user_of(doc: dict, model: ReadModel) -> str | None:
    """The user an alert is about: its action's user, else the one its link back names."""
    try:
        found = model.snapshot().one("page_action", {"action_id": str(doc.get("action_id") or "")})
    except NotReady:
        found = None
    if found:
        return found["user_id"]
    for url in slack_html.links(doc.get("blocks")):
        if "/empathy/users/" in url:
            from urllib.parse import unquote

            return unquote(url.split("/empathy/users/", 1)[1].split("?", 1)[0])
    return None


class _NotReady(Exception):
    pass


def _warm_up() -> None:
    """Import the statistics (seconds, once) before anyone opens the uplift page."""
    try:
        from empathy.ui import uplift

        uplift._stats()
    except Exception:  # noqa: BLE001 - the uplift page will say what is missing
        log.exception("empathy page: statistics could not be loaded")


__all__ = ["create_app"]
