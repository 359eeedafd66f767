"""The background users' journey templates, rendered once into `%`-format strings.

A template is a persona's list of steps: the gap after the previous step (seconds, lo..hi) and the
variants one of which is drawn. Each variant is rendered once into a `%`-format string with slots for
messageId, userId, timestamp and the user's browser context, so generating one event costs one string
format (`background.py` draws every choice with numpy).
"""
from __future__ import annotations

import functools
import json

import numpy as np

from empathy.demo.catalog import APP, LIB_JS, LIB_PY, page_title


def _b(event=None, *, page=None, server=False, **props):
    """One step variant: a track `event` (server-side or from the browser) or a `page` view."""
    return {"event": event, "page": page, "server": server, "props": props}


_PAGES = ("/dashboard", "/reports", "/integrations", "/settings/team", "/pricing", "/deployments", "/alerts")
_ELEMENTS = ("Create project", "Export CSV", "Invite teammate", "Date filter", "Save", "New alert", "Share")
_QUERIES = ("webhooks", "retention", "slack integration", "api keys", "export", "alerts", "sso")
_DOCS = ("/docs/quickstart", "/docs/webhooks", "/docs/api/pagination", "/docs/cli/deploy", "/docs/sdk/python")
_ENDPOINTS = ("/v1/events", "/v1/metrics", "/v1/projects", "/v1/exports", "/v1/users")
_COMMANDS = ("empathy deploy", "empathy logs --tail", "empathy run sync", "empathy status", "empathy init")
_ERRORS = ((500, "Internal Server Error"), (502, "Bad Gateway"), (503, "Service Unavailable"),
           (401, "Unauthorized: invalid API key"), (429, "Too Many Requests"))
_NEG_TEXTS = ("Still broken after the update, nobody answered my last ticket.",
              "Exports keep failing and support is not responding. Very frustrating.",
              "Your API returns errors all day. This is unacceptable.")
_OK_TEXTS = ("Quick question: how do I add a teammate?", "Works now, thanks for the quick help!",
             "Great product, just wondering about SSO.")


def _pick(values, make):
    return [make(v) for v in values]


def _templates() -> list[tuple[str, float, list]]:
    """(persona, weight, steps). Steps: (gap_lo_s, gap_hi_s, [variants])."""
    signup = [_b("Signed Up", server=True, plan="starter"), _b("Trial Started", server=True, plan="team")]
    def page(paths):
        return _pick(paths, lambda p: _b(page=p))

    def click(els):
        return _pick(els, lambda e: _b("Element Clicked", element=e, path="@@PATH@@"))

    ok_api = _pick(_ENDPOINTS, lambda e: _b("API Request", server=True, endpoint=e, status_code=200, method="GET"))
    bad_api = [_b("API Request", server=True, endpoint=e, status_code=s, error_message=m, method="POST")
               for e in _ENDPOINTS[:3] for s, m in _ERRORS]
    cmd = _pick(_COMMANDS, lambda c: _b("Command Executed", server=True, command=c, exit_code=0))
    search = _pick(_QUERIES, lambda q: _b("Search Performed", query=q, results_count=5, path="@@PATH@@"))
    opened = [_b("Email Opened", server=True, email_id=f"drip-{i}", list="onboarding") for i in (1, 2, 3)]
    clicked = [_b("Email Link Clicked", server=True, email_id=f"drip-{i}", list="onboarding") for i in (1, 2, 3)]
    neg_ticket = [_b("Support Ticket Created", ticket_id="@@TICKET@@", subject="Problem", text=t,
                     author="customer") for t in _NEG_TEXTS]
    ok_ticket = [_b("Support Ticket Created", ticket_id="@@TICKET@@", subject="Question", text=t,
                    author="customer") for t in _OK_TEXTS]
    failed = [_b("Payment Failed", server=True, invoice_id="@@INVOICE@@", amount=a, currency="USD", reason=r)
              for a in (49.0, 300.0, 1200.0) for r in ("card_declined", "expired_card", "insufficient_funds")]
    security = [_b("Search Performed", query=q, results_count=3, path="@@PATH@@")
                for q in ("SOC 2 report", "security whitepaper", "DPA", "ISO 27001")]
    H = 3600
    return [
        ("explorer", 0.32, [(0, 0, signup), (30, 300, page(_PAGES)), (20, 120, click(_ELEMENTS)),
                            (30, 600, page(_PAGES)), (10, 60, search), (5, 20, click(_ELEMENTS)),
                            (30, 200, page(_DOCS)), (20, 240, cmd)]),
        ("delighted", 0.2, [(0, 0, signup), (60, 600, cmd), (5, 30, ok_api), (5, 60, ok_api),
                            (H, 6 * H, opened), (10, 120, clicked), (20, 200, page(_PAGES)), (10, 90, ok_api)]),
        ("rage_clicks", 0.07, [(0, 0, signup), (60, 6 * H, page(_PAGES)), (5, 40, click(_ELEMENTS)),
                               (1, 3, ["@@SAME@@"]), (1, 3, ["@@SAME@@"]), (1, 3, ["@@SAME@@"]),
                               (20, 120, page(_PAGES)), (10, 60, ok_api)]),
        ("api_errors", 0.07, [(0, 0, signup), (60, 6 * H, ok_api), (30, 600, bad_api), (10, 60, bad_api),
                              (10, 60, bad_api), (10, 90, page(("/status",))), (30, 300, neg_ticket),
                              (30, 300, bad_api)]),
        ("confused_docs", 0.1, [(0, 0, signup), (60, 6 * H, page(_PAGES)), (20, 120, page(_DOCS)),
                                (330, 900, page(_PAGES)), (20, 200, page(_PAGES)), (10, 60, click(_ELEMENTS)),
                                (10, 60, page(_DOCS)), (20, 90, page(_PAGES))]),
        ("billing_trouble", 0.05, [(0, 0, signup), (H, 10 * H, failed), (60, 600, page(("/settings/billing",))),
                                   (30, 300, neg_ticket), (H, 10 * H, failed), (H, 10 * H, failed),
                                   (60, 600, page(("/settings/billing", "/account/cancel")))]),
        ("security_review", 0.07, [(0, 0, signup), (60, 900, security), (5, 20, page(("/trust",))),
                                   (60, 300, security), (5, 20, page(("/trust/security-whitepaper",))),
                                   (60, 300, page(("/legal/dpa", "/security"))), (10, 120, click(_ELEMENTS))]),
        ("recovered", 0.07, [(0, 0, signup), (60, 6 * H, bad_api), (10, 60, bad_api), (10, 60, bad_api),
                             (60, 900, ok_ticket[1:2]), (H, 8 * H, cmd), (10, 60, ok_api), (10, 60, ok_api),
                             (30, 300, page(_PAGES))]),
        ("quiet", 0.05, [(0, 0, signup), (60, 6 * H, page(_PAGES)), (30, 300, page(_PAGES))]),
    ]




def _esc(s: str) -> str:
    return s.replace("%", "%%")


def _render(kind: str, spec: dict) -> str:
    """A %-format string with slots (messageId, userId, timestamp, ctx): ctx is '"userAgent":...,"ip":...'."""
    server = spec["server"]
    ev: dict = {"type": kind, "messageId": "@@MID@@", "userId": "@@UID@@", "timestamp": "@@TS@@"}
    if kind == "page":
        path = spec["page"]
        ev["name"] = page_title(path)
        ev["properties"] = {"path": path, "url": APP + path, "title": page_title(path)}
    else:
        ev["event"] = spec["event"]
        ev["properties"] = dict(spec["props"])
        path = "/dashboard"
    for k, v in ev["properties"].items():
        if v == "@@PATH@@":
            ev["properties"][k] = path
    if server:
        ctx = '{"library":' + json.dumps(LIB_PY, separators=(",", ":")) + "@@CTX0@@}"
    else:
        ctx = ('{"page":' + json.dumps({"path": path, "url": APP + path}, separators=(",", ":"))
               + ",@@CTX@@,\"library\":" + json.dumps(LIB_JS, separators=(",", ":")) + "}")
    ev["context"] = "@@CONTEXT@@"
    text = _esc(json.dumps(ev, separators=(",", ":"), ensure_ascii=False))
    text = (text.replace('"@@CONTEXT@@"', ctx).replace("@@MID@@", "%s").replace("@@UID@@", "%s")
            .replace("@@TS@@", "%s").replace("@@CTX@@", "%s").replace("@@CTX0@@", "%.0s"))
    return text


@functools.cache
def compiled_templates():
    """Templates with every variant rendered: (names, weights, [(steps: [(lo, hi, [fmt])])])."""
    names, weights, compiled = [], [], []
    for name, weight, steps in _templates():
        out = []
        for lo, hi, variants in steps:
            if variants == ["@@SAME@@"]:  # rage: repeat the previous click's element (same variant index)
                out.append((lo, hi, "same"))
                continue
            fmts = []
            for spec in variants:
                kind = "page" if spec["page"] else "track"
                fmts.append(_render(kind, spec))
            out.append((lo, hi, fmts))
        names.append(name)
        weights.append(weight)
        compiled.append(out)
    w = np.array(weights, dtype=float)
    return names, w / w.sum(), compiled



def mean_journey_length() -> float:
    """Events per background user on average: identify + group + the weighted mean of the steps."""
    _, probs, templates = compiled_templates()
    return 2 + sum(p * len(steps) for p, steps in zip(probs, templates))
