"""The LLM email rewrite: a drip email's body in the chosen tone, kept only when it passes the guardrails.

No database and nothing from the customer: the model sees the template's own body with its tokens
(``[[FIRST_NAME]]``, ``[[FRICTION]]``; the real values are filled in after) and the tone. A rewrite must
keep every token, add no link, number, price or offer the template did not have, stay within a length
bound and contain no markup; otherwise the template stands and the reason is recorded. Identical
requests are asked once (tokens make most emails of a step identical), and an answer the cache holds is
not asked again:

    keys = rewrite_keys(drafts, settings)                 # DB task: cache.lookup(con, keys, cache.EMAIL_REWRITE)
    results = rewrite_drafts(drafts, settings, cached)    # DB-free task: one Rewrite per draft, in order
    rows = cache.rows_to_store(results)                   # DB task, after: cache.store(con, rows)
"""
from __future__ import annotations

import logging
import re
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from empathy.llm import cache
from empathy.llm.client import LLM, Unusable, model_for, request_body, request_key

log = logging.getLogger(__name__)

TEMPERATURE = 0.3
MIN_RATIO = 0.3  # a rewrite shorter than this share of the template lost content

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
- At most {max_chars} characters."""

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


class Draft(Protocol):
    """What a rewrite needs of an email draft (``content``'s drafts have it; so has ``EmailDraft``)."""

    body: str
    tone: str


class EmailDraft(BaseModel):
    """An email body with its tokens, and its tone: the hand-off shape for the DB-free rewrite task."""

    body: str
    tone: str = "standard"


class RewriteAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    body: str


class Rewrite(BaseModel):
    """The outcome for one draft: ``body`` to use (tokens kept; None = the template stands) and why."""

    source: Literal["llm", "template"]
    body: str | None = None
    note: str
    key: str | None = None
    model: str | None = None
    answer: dict | None = None     # a new answer from the model, to store in the cache

    def cache_row(self) -> dict | None:
        if self.answer is None or not self.key:
            return None
        return cache.row(self.key, cache.EMAIL_REWRITE, self.model or "", self.answer)


# --- guardrails -------------------------------------------------------------------------------------
def urls(text: str) -> set[str]:
    return {m.group(0).rstrip(".,;:!?") for m in _URL.finditer(text)}


def check_rewrite(original: str, rewrite: str, max_ratio: float) -> str | None:
    """None when ``rewrite`` may replace ``original``; else the broken guardrail, for the record."""
    if not rewrite or not rewrite.strip():
        return "empty rewrite"
    if len(rewrite) > max_ratio * len(original):
        return f"too long ({len(rewrite)} > {max_ratio} x {len(original)} chars)"
    if len(rewrite) < MIN_RATIO * len(original):
        return f"too short ({len(rewrite)} < {MIN_RATIO} x {len(original)} chars)"
    if re.search(r"<[a-zA-Z/!]", rewrite):
        return "markup in rewrite"
    if set(_TOKEN.findall(rewrite)) != set(_TOKEN.findall(original)):
        return "placeholders changed"
    new_links = urls(rewrite) - urls(original)
    if new_links:
        return f"link not in template: {min(new_links)}"
    without_urls, original_text = _URL.sub(" ", rewrite), _URL.sub(" ", original)
    numbers = set(_NUMBER.findall(without_urls)) - set(_NUMBER.findall(original_text))
    if numbers:
        return f"number not in template: {min(numbers)}"
    words = {w.lower() for w in _NUMBER_WORDS.findall(rewrite)} - {w.lower() for w in _NUMBER_WORDS.findall(original)}
    if words:
        return f"number not in template: {min(words)}"
    for name, pattern in _OFFER_PATTERNS.items():
        if pattern.search(without_urls) and not pattern.search(original_text):
            return f"offer language not in template ({name})"
    return None


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- requests ---------------------------------------------------------------------------------------
def rewrite_messages(draft: Draft, max_ratio: float) -> list[dict]:
    """The exact messages sent: the template's tokenised body and the tone; nothing from the customer."""
    import json

    max_chars = int(len(draft.body) * max_ratio)
    user = json.dumps({"tone": draft.tone, "tone_guide": TONE_GUIDES.get(draft.tone, TONE_GUIDES["standard"]),
                       "draft": draft.body}, ensure_ascii=False)
    return [{"role": "system", "content": SYSTEM_PROMPT.format(max_chars=max_chars)},
            {"role": "user", "content": user}]


def rewrite_key(draft: Draft, settings, model: str) -> str:
    """sha256 of exactly what is sent to rewrite ``draft``."""
    body = request_body(model, rewrite_messages(draft, settings.rewrite_max_ratio), RewriteAnswer)
    return request_key({**body, "temperature": TEMPERATURE})


def rewrite_keys(drafts: list[Draft], settings, model: str | None = None) -> list[str]:
    """The cache key of each draft's rewrite, in order (what the DB task looks up)."""
    model = model or model_for(settings)
    return [rewrite_key(d, settings, model) for d in drafts]


def judge_answer(draft: Draft, answer: RewriteAnswer | str, settings, model: str) -> tuple[str | None, str]:
    """(the body to use, the note): the rewrite when it keeps the rules, else None and the reason."""
    if isinstance(answer, str):
        return None, f"llm error: {answer}"
    problem = check_rewrite(draft.body, answer.body, settings.rewrite_max_ratio)
    if problem:
        return None, f"rewrite rejected: {problem}"
    return _tidy(answer.body), f"rewritten by {model}"


def rewrite_drafts(drafts: list[Draft], settings, cached: dict | None = None, llm: LLM | None = None) -> list[Rewrite]:
    """One ``Rewrite`` per draft, in order; never raises. ``cached``: ``{key: answer}`` from ``cache.lookup``.

    With ``email_rewrite`` off, or no usable ``openai_default`` connection, every template stands (and says why)."""
    if not drafts:
        return []
    if not settings.email_rewrite:
        return [Rewrite(source="template", note="rewrite disabled (email_rewrite=false)") for _ in drafts]
    if llm is None:
        try:
            llm = LLM.connect(settings)
        except ValueError as exc:
            return [Rewrite(source="template", note=f"openai connection unusable: {exc}"[:300]) for _ in drafts]
        if llm is None:
            return [Rewrite(source="template", note="no openai connection") for _ in drafts]
    keys = [rewrite_key(d, settings, llm.model) for d in drafts]
    answers: dict[str, RewriteAnswer | str] = {}
    for key in set(keys):
        if key in (cached or {}):
            try:
                answers[key] = RewriteAnswer.model_validate(cached[key])
            except ValueError:
                log.warning("llm_cache row %s is not a rewrite; asking again", key[:12])
    todo = {k: d for k, d in zip(keys, drafts) if k not in answers}
    fresh = dict(zip(todo, llm.map(lambda d: _ask(llm, d, settings), list(todo.values()))))
    answers.update(fresh)
    out = []
    for draft, key in zip(drafts, keys):
        answer = answers[key]
        body, note = judge_answer(draft, answer, settings, llm.model)
        new = answer.model_dump() if key in fresh and isinstance(answer, RewriteAnswer) else None
        out.append(Rewrite(source="llm" if body is not None else "template", body=body, note=note, key=key,
                           model=llm.model, answer=new))
    return out


def _ask(llm: LLM, draft: Draft, settings) -> RewriteAnswer | str:
    try:
        return llm.parse(rewrite_messages(draft, settings.rewrite_max_ratio), RewriteAnswer, temperature=TEMPERATURE)
    except Unusable as exc:
        log.warning("email rewrite failed (%s): using the template", exc)
        return str(exc)


def counts(results: list[Rewrite]) -> dict:
    """How many drafts were rewritten and how many kept their template, and the new answers among them."""
    return {"llm": sum(r.source == "llm" for r in results), "template": sum(r.source == "template" for r in results),
            "asked": len({r.key for r in results if r.answer is not None})}
