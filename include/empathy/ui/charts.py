"""Charts as server-rendered SVG: no JavaScript, no CDN, readable in any browser and in a screenshot.

Each chart is a small function from rows to an ``<svg>`` (Markup), with a ``<title>`` per point or bar
(the browser's tooltip) and a text description for screen readers. Every label is escaped.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from html import escape

from markupsafe import Markup

STATE_ORDER = ("at_risk", "frustrated", "confused", "exploring", "delighted")
STATE_COLORS = {"at_risk": "#b3261e", "frustrated": "#e8710a", "confused": "#c9a400", "exploring": "#8d99ae",
                "delighted": "#1e8e3e"}
FONT = 'font-family="system-ui,sans-serif" font-size="11" fill="#555"'


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
                  f'style="max-width:{width}px" role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
                  + "".join(body) + "</svg>")


def _epoch(value) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    return _epoch(datetime.fromisoformat(str(value)))


def _label(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%d %b %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b")
    return str(value)[:16]


def empty(message: str, width: int = 720, height: int = 60) -> Markup:
    return _svg(width, height, [f'<text x="10" y="34" {FONT}>{escape(message)}</text>'], message)


def sentiment(points: list[dict], width: int = 720, height: int = 240) -> Markup:
    """A user's sentiment over time (-1..1), each point coloured by the state it came with."""
    points = sorted((p for p in points if p.get("as_of") is not None and p.get("sentiment") is not None),
                    key=lambda p: _epoch(p["as_of"]))
    if not points:
        return empty("No state changes recorded yet.")
    left, right, top, bottom = 44, 16, 14, 34
    xs = [_epoch(p["as_of"]) for p in points]
    lo, hi = min(xs), max(xs)
    span = (hi - lo) or 3600.0
    lo, hi = (lo - span * 0.05, hi + span * 0.05) if hi > lo else (lo - span, hi + span)

    def x(t: float) -> float:
        return left + (t - lo) / (hi - lo) * (width - left - right)

    def y(s: float) -> float:
        return top + (1 - (max(-1.0, min(1.0, float(s))) + 1) / 2) * (height - top - bottom)

    body = []
    for v in (-1, -0.5, 0, 0.5, 1):
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                    f'stroke="{"#999" if v == 0 else "#e4e4e8"}" stroke-width="1"/>')
        body.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" {FONT}>{v:+.1f}</text>')
    line = " ".join(f"{x(t):.1f},{y(p['sentiment']):.1f}" for t, p in zip(xs, points))
    body.append(f'<polyline points="{line}" fill="none" stroke="#3c4a8a" stroke-width="2"/>')
    for t, p in zip(xs, points):
        state = str(p.get("state") or "")
        tip = f"{_label(p['as_of'])} UTC: {state}, sentiment {float(p['sentiment']):+.2f}"
        body.append(f'<circle cx="{x(t):.1f}" cy="{y(p["sentiment"]):.1f}" r="5" '
                    f'fill="{STATE_COLORS.get(state, "#555")}" stroke="#fff"><title>{escape(tip)}</title></circle>')
    for t in (lo + (hi - lo) * f for f in (0.05, 0.5, 0.95)) if len(points) > 1 else [xs[0]]:
        body.append(f'<text x="{x(t):.1f}" y="{height - 12}" text-anchor="middle" {FONT}>'
                    f'{escape(_label(datetime.fromtimestamp(t, UTC)))}</text>')
    body.append(_legend(width - right - 5 * 92, height - 2))
    return _svg(width, height, body, f"Sentiment over time, {len(points)} points, latest "
                f"{float(points[-1]['sentiment']):+.2f} ({points[-1].get('state')})")


def _legend(x0: float, y0: float) -> str:
    items = []
    for i, state in enumerate(STATE_ORDER):
        items.append(f'<rect x="{x0 + i * 92}" y="{y0 - 9}" width="9" height="9" fill="{STATE_COLORS[state]}"/>'
                     f'<text x="{x0 + i * 92 + 13}" y="{y0}" {FONT}>{state}</text>')
    return "".join(items)


def states_per_day(rows: list[dict], width: int = 720, height: int = 240) -> Markup:
    """Users per state at the end of each day, stacked (worst state at the bottom)."""
    days = sorted({r["day"] for r in rows})
    if not days:
        return empty("No states yet.")
    by = {(r["day"], r["state"]): int(r["users"] or 0) for r in rows}
    totals = [sum(by.get((d, s), 0) for s in STATE_ORDER) for d in days]
    top_value = max(totals) or 1
    left, right, top, bottom = 52, 10, 12, 40
    band = (width - left - right) / len(days)
    bar = max(1.0, band * 0.8)
    body = []
    for frac in (0, 0.5, 1):
        yv = top + (1 - frac) * (height - top - bottom)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{yv:.1f}" y2="{yv:.1f}" stroke="#e4e4e8"/>')
        body.append(f'<text x="{left - 6}" y="{yv + 4:.1f}" text-anchor="end" {FONT}>{round(top_value * frac):,}</text>')
    for i, d in enumerate(days):
        base = height - bottom
        for state in STATE_ORDER:
            n = by.get((d, state), 0)
            if not n:
                continue
            h = n / top_value * (height - top - bottom)
            base -= h
            body.append(f'<rect x="{left + i * band + (band - bar) / 2:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                        f'height="{h:.1f}" fill="{STATE_COLORS[state]}"><title>{escape(_label(d))}: {n:,} {state}'
                        f'</title></rect>')
    for i in sorted({0, len(days) // 2, len(days) - 1}):
        body.append(f'<text x="{left + i * band + band / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                    f'{FONT}>{escape(_label(days[i]))}</text>')
    body.append(_legend(left, height - 4))
    return _svg(width, height, body, f"Users per state over {len(days)} days; latest day {totals[-1]:,} users")


def account_trend(rows: list[dict], width: int = 720, height: int = 220) -> Markup:
    """An account per day: its users' mean sentiment (line) over how many were at_risk or frustrated (bars)."""
    rows = [r for r in rows if r.get("day") is not None]
    if not rows:
        return empty("No history for this account yet.")
    left, right, top, bottom = 44, 64, 12, 40
    band = (width - left - right) / len(rows)
    most = max(int(r.get("users") or 0) for r in rows) or 1

    def y(s: float) -> float:
        return top + (1 - (max(-1.0, min(1.0, float(s))) + 1) / 2) * (height - top - bottom)

    body = []
    for v in (-1, 0, 1):
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e4e4e8"/>'
                    f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" {FONT}>{v:+d}</text>')
    body.append(f'<text x="{width - 2}" y="{top + 8}" text-anchor="end" {FONT}>{most} user{"s" if most != 1 else ""}</text>')
    for i, r in enumerate(rows):
        base = height - bottom
        for state in ("at_risk", "frustrated"):
            n = int(r.get(state) or 0)
            if n:
                h = n / most * (height - top - bottom) * 0.9
                base -= h
                body.append(f'<rect x="{left + i * band + band * 0.15:.1f}" y="{base:.1f}" width="{band * 0.7:.1f}" '
                            f'height="{h:.1f}" fill="{STATE_COLORS[state]}" opacity="0.55"><title>'
                            f'{escape(_label(r["day"]))}: {n} {state}</title></rect>')
    pts = [(left + i * band + band / 2, y(r["sentiment"])) for i, r in enumerate(rows) if r.get("sentiment") is not None]
    body.append('<polyline points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
                + '" fill="none" stroke="#3c4a8a" stroke-width="2"/>')
    for (a, b), r in zip(pts, [r for r in rows if r.get("sentiment") is not None]):
        body.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="#3c4a8a"><title>{escape(_label(r["day"]))}: '
                    f'mean sentiment {float(r["sentiment"]):+.2f} over {r.get("users")} users</title></circle>')
    for i in sorted({0, len(rows) // 2, len(rows) - 1}):
        body.append(f'<text x="{left + i * band + band / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                    f'{FONT}>{escape(_label(rows[i]["day"]))}</text>')
    return _svg(width, height, body, f"Account trend over {len(rows)} days")


def intervals(items: list[dict], width: int = 720) -> Markup:
    """Shares with their 95% intervals, two bars (treatment, holdout) per outcome, on a 0-100% axis."""
    items = [i for i in items if i.get("treatment") or i.get("holdout")]
    if not items:
        return empty("No enrolled users yet.")
    row_h, left, right, top = 46, 250, 20, 24
    height = top + row_h * len(items) + 24

    def x(p: float) -> float:
        return left + max(0.0, min(1.0, p)) * (width - left - right)

    body = []
    for frac in (0, 0.25, 0.5, 0.75, 1):
        body.append(f'<line x1="{x(frac):.1f}" x2="{x(frac):.1f}" y1="{top - 6}" y2="{height - 20}" stroke="#e4e4e8"/>'
                    f'<text x="{x(frac):.1f}" y="{height - 6}" text-anchor="middle" {FONT}>{frac:.0%}</text>')
    for n, item in enumerate(items):
        y0 = top + n * row_h
        body.append(f'<text x="{left - 10}" y="{y0 + 18}" text-anchor="end" {FONT}>{escape(item["label"])}</text>')
        for k, (group, color) in enumerate((("treatment", "#3c4a8a"), ("holdout", "#9aa0a6"))):
            g = item[group]
            yy = y0 + 8 + k * 16
            if not g:
                body.append(f'<text x="{left + 4}" y="{yy + 4}" {FONT}>no {group} users yet</text>')
                continue
            body.append(f'<line x1="{x(g["low"]):.1f}" x2="{x(g["high"]):.1f}" y1="{yy}" y2="{yy}" stroke="{color}" '
                        f'stroke-width="6" stroke-linecap="round" opacity="0.45"/>'
                        f'<circle cx="{x(g["share"]):.1f}" cy="{yy}" r="5" fill="{color}"><title>{group}: '
                        f'{g["share"]:.1%} of {g["n"]:,} (95% CI {g["low"]:.1%} to {g["high"]:.1%})</title></circle>')
    body.append(f'<circle cx="{left}" cy="10" r="5" fill="#3c4a8a"/><text x="{left + 9}" y="14" {FONT}>treatment '
                f'(empathy adjustments)</text><circle cx="{left + 220}" cy="10" r="5" fill="#9aa0a6"/>'
                f'<text x="{left + 229}" y="14" {FONT}>holdout (standard drip)</text>')
    return _svg(width, height, body, "Outcomes per group with 95% confidence intervals")
