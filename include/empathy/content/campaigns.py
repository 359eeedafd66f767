"""Campaign files: a drip's steps (delay, category, template, what an at_risk user gets instead), its
links and contact details, validated when loaded (a broken file fails loudly, naming itself)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import yaml

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "campaigns"
TONES = ("standard", "supportive", "security", "celebratory")
CATEGORIES = ("transactional", "support", "educational", "promotional")


@dataclass(frozen=True)
class Step:
    id: str
    delay_h: float
    category: str
    template: str
    at_risk: dict | None = None  # {template, category}: what a user who may be leaving gets instead (None = skip)


@dataclass(frozen=True, eq=False)  # loaded once: identity is its hash (renders are cached per campaign)
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

    def our_links(self) -> frozenset[str]:
        """Every URL the campaign file itself holds: the only links an email may carry."""
        return _links_of(self)


@functools.lru_cache(maxsize=64)
def _links_of(campaign: Campaign) -> frozenset[str]:
    """Once per loaded campaign (a campaign is hashed by identity, and every email asks)."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, str) and value.startswith(("https://", "http://")):
            found.add(value)
    walk(campaign.links)
    walk(campaign.contact)
    return frozenset(found)


def campaigns_dir(settings) -> Path:
    return Path(settings.campaigns_dir).expanduser() if settings.campaigns_dir else BUILTIN_DIR


def load_campaigns(settings) -> list[Campaign]:
    """Every ``*/campaign.yaml`` under the campaigns folder, validated."""
    files = sorted(campaigns_dir(settings).glob("*/campaign.yaml"))
    return list(_load_cached(tuple((str(p), p.stat().st_mtime_ns) for p in files)))


@functools.lru_cache(maxsize=8)
def _load_cached(files: tuple) -> tuple[Campaign, ...]:
    return tuple(_parse_campaign(Path(path)) for path, _ in files)


def _parse_campaign(path: Path) -> Campaign:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    name = str(raw.get("name") or path.parent.name)
    steps: list[Step] = []
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


def steps_table(campaigns: list[Campaign]) -> pa.Table:
    """Every campaign's steps as rows, for the policy's SQL (table ``_steps``)."""
    rows = [{"campaign": c.name, "step_no": i, "step": s.id, "delay_h": float(s.delay_h), "category": s.category,
             "template": s.template, "at_risk_template": (s.at_risk or {}).get("template"),
             "at_risk_category": (s.at_risk or {}).get("category", "support") if s.at_risk else None,
             "enrol_on": list(c.enrol_on)}
            for c in campaigns for i, s in enumerate(c.steps, start=1)]
    schema = pa.schema([("campaign", pa.string()), ("step_no", pa.int64()), ("step", pa.string()),
                        ("delay_h", pa.float64()), ("category", pa.string()), ("template", pa.string()),
                        ("at_risk_template", pa.string()), ("at_risk_category", pa.string()),
                        ("enrol_on", pa.list_(pa.string()))])
    return pa.Table.from_pylist(rows, schema=schema)
