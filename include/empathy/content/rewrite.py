"""Email content: campaign files, Jinja templates per tone, the unsubscribe footer, and an optional LLM rewrite.

Templates are rendered with *tokens* (``[[FIRST_NAME]]``, ``[[FRICTION]]``) in place of anything that
comes from the user, and the real values are substituted afterwards. So customer data never passes
through Jinja, and the LLM rewrite sees only the template's own words: no name, no email address, no
ticket text. A rewrite must keep every token, add no link, number, price or offer that the template
did not have, stay within a length bound, and contain no markup; otherwise the template's body is
used and the reason is recorded. The unsubscribe footer is appended after the rewrite, so it is
always there.
"""
from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import yaml

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent / "campaigns"
TONES = ("standard", "supportive", "security", "celebratory")
CATEGORIES = ("transactional", "support", "educational", "promotional")
ASM_UNSUBSCRIBE_URL = "<%asm_group_unsubscribe_raw_url%>"  # SendGrid substitutes the group's link
REWRITE_VERSION = "email-rewrite-v1"

TOKEN_FIRST_NAME = "[[FIRST_NAME]]"
TOKEN_FRICTION = "[[FRICTION]]"
_TOKEN = re.compile(r"\[\[[A-Z_]+\]\]")
_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
    r"fifty|hundred|thousand|half|double|twice|triple)\b", re.IGNORECASE)
# Offer language: a rewrite may use these only where the template already does.
_OFFER_PATTERNS = {
    "discount": re.compile(r"\bdiscount", re.IGNORECASE),
    "coupon/code": re.compile(r"\bcoupon|\bpromo|\bvoucher|\bcode\b", re.IGNORECASE),
    "free": re.compile(r"\bfree\b(?!\s+to\b)", re.IGNORECASE),
    "percent/off": re.compile(r"%|\bpercent|\boff\s+(?:your|the|all|any)\b", re.IGNORECASE),
    "price": re.compile(r"[$€£¥]|\bprice|\bpricing|\bcheaper|\bsav(?:e|ing)s?\b", re.IGNORECASE),
    "refund/credit": re.compile(r"\brefund|\bcredit|\bcashback|\bbonus", re.IGNORECASE),
    "trial/upgrade": re.compile(r"\btrial|\bupgrade", re.IGNORECASE),
}


# --- campaign files ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    id: str
    delay_h: float
    category: str
    template: str
    at_risk: dict | None = None  # {template, category}: what an at_risk user gets instead (None = skip)


@dataclass(frozen=True)
class Campaign:
    name: str
    enrol_on: tuple[str, ...]
    steps: tuple[Step, ...]
    root: Path
    product: str = "our product"
    links: dict = field(default_factory=dict)
    contact: dict = field(default_factory=dict)
    offer: dict = field(default_factory=dict)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


def campaigns_dir(settings) -> Path:
    return Path(settings.campaigns_dir).expanduser() if getattr(settings, "campaigns_dir", "") else BUILTIN_DIR


def load_campaigns(settings) -> list[Campaign]:
    """Every ``*/campaign.yaml`` under the campaigns folder, validated (a broken file fails loudly)."""
    folder = campaigns_dir(settings)
    files = sorted(folder.glob("*/campaign.yaml"))
    return list(_load_cached(tuple((str(p), p.stat().st_mtime_ns) for p in files)))


@functools.lru_cache(maxsize=8)
def _load_cached(files: tuple) -> tuple[Campaign, ...]:
    return tuple(_parse_campaign(Path(path)) for path, _ in files)


def _parse_campaign(path: Path) -> Campaign:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    name = str(raw.get("name") or path.parent.name)
    steps = []
    for i, s in enumerate(raw.get("steps") or []):
        step = Step(id=str(s["id"]), delay_h=float(s.get("delay_h", 0)), category=str(s["category"]),
                    template=str(s["template"]), at_risk=s.get("at_risk"))
        if step.category not in CATEGORIES:
            raise ValueError(f"{path}: step {step.id}: category {step.category!r} not one of {CATEGORIES}")
        if step.at_risk and step.at_risk.get("category", "support") == "promotional":
            raise ValueError(f"{path}: step {step.id}: the at_risk alternative cannot be promotional")
        for tpl in filter(None, [step.template, (step.at_risk or {}).get("template")]):
            if not (path.parent / "templates" / tpl / "standard.j2").exists():
                raise ValueError(f"{path}: step {step.id}: templates/{tpl}/standard.j2 missing")
        if i and step.delay_h < steps[-1].delay_h:
            raise ValueError(f"{path}: steps must be in order of delay_h")
        steps.append(step)
    if len({s.id for s in steps}) != len(steps):
        raise ValueError(f"{path}: step ids must be unique")
    return Campaign(name=name, enrol_on=tuple(raw.get("enrol_on") or ()), steps=tuple(steps), root=path.parent,
                    product=str(raw.get("product") or "our product"), links=raw.get("links") or {},
                    contact=raw.get("contact") or {}, offer=raw.get("offer") or {})


@functools.lru_cache(maxsize=16)
def _env(root: str):
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(root) / "templates")),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)


# --- rendering --------------------------------------------------------------------------------------
@dataclass
class Draft:
    """One email before the footer: subject and body with tokens; ``values`` fills the tokens."""
    campaign: str
    template: str
    tone: str
    subject: str
    body: str
    values: dict
    rewritten: str | None = None
    rewrite: str = "template"          # template | llm
    rewrite_note: str = "no rewrite configured"


def template_path(campaign: Campaign, template: str, tone: str) -> tuple[str, str]:
    """(relative template file, tone actually used): a tone without its own file uses standard."""
    if tone in TONES and (campaign.root / "templates" / template / f"{tone}.j2").exists():
        return f"{template}/{tone}.j2", tone
    return f"{template}/standard.j2", "standard"


def render(campaign: Campaign, template: str, tone: str, first_name: str | None = None,
           friction: dict | None = None) -> Draft:
    """Render subject and body of ``template`` in ``tone``.

    ``friction`` = {"signal", "label", "link"}: the stuck user's friction point (label is shown to
    them, link is the campaign's troubleshooting page for that signal).
    """
    rel, used_tone = template_path(campaign, template, tone)
    tpl = _env(str(campaign.root)).get_template(rel)
    ctx = {
        "product": campaign.product, "links": campaign.links, "contact": campaign.contact, "offer": campaign.offer,
        "first_name": TOKEN_FIRST_NAME,
        "friction": {"label": TOKEN_FRICTION, "link": friction["link"], "signal": friction.get("signal")}
        if friction else None,
    }
    context = tpl.new_context(ctx)
    subject = " ".join("".join(tpl.blocks["subject"](context)).split())
    body = _tidy("".join(tpl.blocks["body"](context)))
    values = {TOKEN_FIRST_NAME: _clean(first_name, 40) or "there",
              TOKEN_FRICTION: _clean((friction or {}).get("label"), 120) or "something"}
    return Draft(campaign.name, template, used_tone, subject, body, values)


def _clean(value, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _fill(text: str, values: dict) -> str:
    for token, value in values.items():
        text = text.replace(token, value)
    return text


def unsubscribe_url(settings, user_id: str, asm_group_id: int | None) -> str:
    """SendGrid's group unsubscribe link when an ``asm_group_id`` is configured, else settings.unsubscribe_url."""
    if asm_group_id:
        return ASM_UNSUBSCRIBE_URL
    return settings.unsubscribe_url.replace("{user_id}", quote(str(user_id), safe=""))


def asm_group_id(settings) -> int | None:
    """The SendGrid unsubscribe group of connection ``sendgrid_default``, if any."""
    try:
        from empathy.connections import sendgrid_info
    except ImportError:
        return None
    info = sendgrid_info(settings.sendgrid_conn_id)
    return info.asm_group_id if info else None


def finish(draft: Draft, product: str, unsubscribe: str) -> dict:
    """Subject, text and HTML with the tokens filled and the unsubscribe footer appended."""
    body = _fill(draft.rewritten if draft.rewritten is not None else draft.body, draft.values)
    subject = _fill(draft.subject, draft.values)
    footer = f"You are receiving this email because you have an account with {product}. Unsubscribe: {unsubscribe}"
    text = f"{body}\n\n--\n{footer}\n"
    html_footer = (f'<p style="color:#888;font-size:12px">You are receiving this email because you have an '
                   f'account with {html.escape(product)}. <a href="{html.escape(unsubscribe)}">Unsubscribe</a></p>')
    page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(subject)}</title></head>"
            f"<body style=\"font-family:sans-serif;max-width:600px;margin:auto\">{to_html(body)}<hr>{html_footer}"
            f"</body></html>")
    return {"subject": subject, "text": text, "html": page, "unsubscribe_url": unsubscribe}


def to_html(body: str) -> str:
    """Plain-text body -> HTML: paragraphs, "- " bullets, links; everything else escaped."""
    parts = []
    for para in re.split(r"\n\s*\n", body.strip()):
        lines = para.splitlines()
        if lines and all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{_linkify(line[2:])}</li>" for line in lines)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append("<p>" + "<br>".join(_linkify(line) for line in lines) + "</p>")
    return "".join(parts)


def _linkify(line: str) -> str:
    out, pos = [], 0
    for url, start, end in _urls_with_spans(line):
        out.append(html.escape(line[pos:start]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        pos = end
    out.append(html.escape(line[pos:]))
    return "".join(out)


def _urls_with_spans(text: str):
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        yield url, m.start(), m.start() + len(url)


def urls(text: str) -> set[str]:
    return {u for u, _, _ in _urls_with_spans(text)}


# --- guardrails -------------------------------------------------------------------------------------
def check_rewrite(original: str, rewrite: str, max_ratio: float) -> str | None:
    """None when ``rewrite`` may replace ``original``; else the broken guardrail, for the record."""
    if not rewrite or not rewrite.strip():
        return "empty rewrite"
    if len(rewrite) > max_ratio * len(original):
        return f"too long ({len(rewrite)} > {max_ratio} x {len(original)} chars)"
    if len(rewrite) < 0.3 * len(original):
        return f"too short ({len(rewrite)} < 0.3 x {len(original)} chars)"
    if re.search(r"<[a-zA-Z/!]", rewrite):
        return "markup in rewrite"
    if set(_TOKEN.findall(rewrite)) != set(_TOKEN.findall(original)):
        return "placeholders changed"
    new_links = urls(rewrite) - urls(original)
    if new_links:
        return f"link not in template: {min(new_links)}"
    without_urls = _URL.sub(" ", rewrite)
    numbers = set(_NUMBER.findall(without_urls)) - set(_NUMBER.findall(_URL.sub(" ", original)))
    if numbers:
        return f"number not in template: {min(numbers)}"
    words = {w.lower() for w in _NUMBER_WORDS.findall(rewrite)} - {w.lower() for w in _NUMBER_WORDS.findall(original)}
    if words:
        return f"number not in template: {min(words)}"
    for name, pattern in _OFFER_PATTERNS.items():
        if pattern.search(without_urls) and not pattern.search(_URL.sub(" ", original)):
            return f"offer language not in template ({name})"
    return None


# --- LLM rewrite ------------------------------------------------------------------------------------
TONE_GUIDES = {
    "standard": "friendly, clear and brief",
    "supportive": "warm, patient and reassuring; acknowledge that things may have been frustrating; make the help obvious",
    "security": "precise, calm and professional, for a security reviewer",
    "celebratory": "upbeat and congratulatory, without exaggeration",
}

SYSTEM_PROMPT = """You edit lifecycle emails for a software company. Rewrite the draft in the requested tone.

Rules, all mandatory:
- Keep every placeholder in double square brackets (such as [[FIRST_NAME]]) exactly as written.
- Use only the links that appear in the draft, unchanged. Add no other link.
- Keep every fact as it is. Add no number, price, percentage, date, code, discount, offer, trial, \
promise or claim that is not in the draft.
- Plain text only: no HTML, no Markdown headings. Blank lines between paragraphs; keep "- " bullets.
- Do not add a signature, a greeting line with a name, or an unsubscribe line.
- At most {max_chars} characters.
Answer with JSON: {{"body": "<the rewritten email body>"}}."""

REWRITE_SCHEMA = {
    "type": "object",
    "properties": {"body": {"type": "string"}},
    "required": ["body"],
    "additionalProperties": False,
}


def rewrite_messages(draft: Draft, max_ratio: float) -> list[dict]:
    """The exact messages sent: the template's tokenised body and the tone; nothing from the customer."""
    max_chars = int(len(draft.body) * max_ratio)
    user = json.dumps({"tone": draft.tone, "tone_guide": TONE_GUIDES.get(draft.tone, TONE_GUIDES["standard"]),
                       "draft": draft.body}, ensure_ascii=False)
    return [{"role": "system", "content": SYSTEM_PROMPT.format(max_chars=max_chars)},
            {"role": "user", "content": user}]


def rewrite_all(drafts: list[Draft], settings, con=None, client=None, model: str | None = None) -> dict:
    """Rewrite each draft's body with the LLM when ``openai_default`` is configured; guardrails decide.

    Identical prompts are asked once (tokens make most emails of a step identical) and answers are
    kept in ``llm_cache`` by the hash of the request, so a rerun makes no call. Returns counts.
    """
    stats = {"llm": 0, "template": 0, "calls": 0, "cached": 0}
    if not drafts:
        return stats
    if not settings.email_rewrite:
        _all_template(drafts, "rewrite disabled (email_rewrite=false)", stats)
        return stats
    if client is None:
        try:
            from empathy.connections import openai_client
        except ImportError:
            openai_client = None
        client = openai_client(settings.openai_conn_id, settings.llm_timeout_s, settings.llm_max_retries) \
            if openai_client else None
    if client is None:
        _all_template(drafts, "no openai connection", stats)
        return stats
    model = model or _model(settings)
    requests: dict[str, list[dict]] = {}
    for d in drafts:
        requests.setdefault(_request_key(d, settings, model), rewrite_messages(d, settings.rewrite_max_ratio))
    answers: dict[str, str | Exception] = {}
    if con is not None:
        for key, response in con.execute(
                "SELECT context_hash, response::VARCHAR FROM llm_cache WHERE list_contains(?, context_hash)",
                [list(requests)]).fetchall():
            answers[key] = json.loads(response).get("content", "")
            stats["cached"] += 1
    todo = [k for k in requests if k not in answers]

    def ask(key):
        try:
            completion = client.chat.completions.create(
                model=model, messages=requests[key], temperature=0.3,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": REWRITE_VERSION.replace("-", "_"), "strict": True,
                                                 "schema": REWRITE_SCHEMA}})
            choice = completion.choices[0]
            if getattr(choice.message, "refusal", None):
                return key, RuntimeError("refused")
            return key, choice.message.content or ""
        except Exception as exc:  # any failure: the template stands
            return key, exc

    if todo:
        with ThreadPoolExecutor(max_workers=max(1, int(settings.llm_concurrency))) as pool:
            for key, answer in pool.map(ask, todo):
                answers[key] = answer
                stats["calls"] += 1
                if con is not None and isinstance(answer, str):
                    con.execute("INSERT INTO llm_cache (context_hash, model, response, created_at) VALUES (?, ?, ?, ?) "
                                "ON CONFLICT (context_hash) DO NOTHING",
                                [key, model, json.dumps({"kind": REWRITE_VERSION, "content": answer}),
                                 datetime.now(UTC)])
    for d in drafts:
        answer = answers[_request_key(d, settings, model)]
        if isinstance(answer, Exception):
            d.rewrite, d.rewrite_note = "template", f"llm error: {type(answer).__name__}"
            log.warning("email rewrite failed (%s): using the template", type(answer).__name__)
        else:
            body, problem = _parse_body(answer)
            problem = problem or check_rewrite(d.body, body, settings.rewrite_max_ratio)
            if problem:
                d.rewrite, d.rewrite_note = "template", f"rewrite rejected: {problem}"
            else:
                d.rewritten, d.rewrite, d.rewrite_note = _tidy(body), "llm", f"rewritten by {model}"
        stats[d.rewrite] += 1
    return stats


def _all_template(drafts, note, stats):
    for d in drafts:
        d.rewrite, d.rewrite_note = "template", note
    stats["template"] += len(drafts)


def _parse_body(answer: str) -> tuple[str, str | None]:
    try:
        data = json.loads(answer)
    except (TypeError, ValueError):
        return "", "garbage answer (not JSON)"
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        return "", "answer does not match the schema"
    return data["body"], None


def _model(settings) -> str:
    try:
        from empathy.connections import get_connection

        conn = get_connection(settings.openai_conn_id)
    except ImportError:
        conn = None
    return (conn.extra.get("model") if conn else None) or settings.openai_model


def _request_key(draft: Draft, settings, model: str) -> str:
    payload = json.dumps([REWRITE_VERSION, model, rewrite_messages(draft, settings.rewrite_max_ratio)],
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
