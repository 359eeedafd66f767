"""Do the empathy adjustments help? Holdout versus treatment, per week of enrolment and over all weeks.

For each outcome, each group's share with its 95% Wilson interval, the difference (treatment minus
holdout) with Newcombe's 95% interval, and a two-sided score test of equal shares; the five outcomes are
tested together (Holm's correction), so one lucky outcome among five is not read as an effect. All from
statsmodels. ``verdict`` says in one sentence whether any difference is distinguishable from noise yet.
"""
from __future__ import annotations

import functools
import warnings
from collections import defaultdict

MIN_GROUP = 10     # fewer users than this in a group: too few to compare at all
ALPHA = 0.05
# (outcome, denominator, label, whether more is better)
OUTCOMES = (
    ("recovered", "troubled", "recovered (left frustrated or at_risk)", True),
    ("cancelled", "users", "cancelled", False),
    ("paid", "users", "paid", True),
    ("replied", "users", "replied (wrote to support)", True),
    ("clicked", "users", "clicked an email link", True),
)


@functools.lru_cache(maxsize=1)
def _stats():
    """statsmodels' functions (imported once: the api-server warms this up when the app starts)."""
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        proportion_confint,
        test_proportions_2indep,
    )

    return proportion_confint, confint_proportions_2indep, test_proportions_2indep, multipletests


def _group(k: int, n: int) -> dict | None:
    if n <= 0:
        return None
    proportion_confint = _stats()[0]
    low, high = proportion_confint(k, n, alpha=ALPHA, method="wilson")
    return {"k": int(k), "n": int(n), "share": k / n, "low": float(low), "high": float(high)}


def compare(counts: dict) -> list[dict]:
    """Per outcome: both groups, the difference with its interval and p-value (Holm-adjusted across outcomes).
    ``counts``: {True (holdout) / False (treatment): {column: n}}."""
    _, confint_2indep, test_2indep, multipletests = _stats()
    treat, hold = counts.get(False) or {}, counts.get(True) or {}
    items = []
    for outcome, denominator, label, better_up in OUTCOMES:
        t = _group(treat.get(outcome, 0), treat.get(denominator, 0))
        h = _group(hold.get(outcome, 0), hold.get(denominator, 0))
        item = {"outcome": outcome, "label": label, "better_up": better_up, "treatment": t, "holdout": h,
                "diff": None, "diff_low": None, "diff_high": None, "p": None, "comparable": False}
        if t and h and t["n"] >= MIN_GROUP and h["n"] >= MIN_GROUP:
            with warnings.catch_warnings():   # shares of 0 or 1 divide by zero inside: the score test still answers
                warnings.simplefilter("ignore", RuntimeWarning)
                low, high = confint_2indep(t["k"], t["n"], h["k"], h["n"], method="newcomb", compare="diff", alpha=ALPHA)
                test = test_2indep(t["k"], t["n"], h["k"], h["n"], method="score", compare="diff")
            p = float(test.pvalue) if test.pvalue == test.pvalue else 1.0   # NaN when both shares are 0 or 1
            item.update(diff=t["share"] - h["share"], diff_low=float(low), diff_high=float(high), p=p, comparable=True)
        items.append(item)
    tested = [i for i in items if i["comparable"]]
    if tested:
        reject, adjusted, _, _ = multipletests([i["p"] for i in tested], alpha=ALPHA, method="holm")
        for item, r, p in zip(tested, reject, adjusted):
            item.update(p_adjusted=float(p), distinguishable=bool(r))
    return items


def _sentence(item: dict) -> str:
    t, h = item["treatment"], item["holdout"]
    return (f"{item['label']}: {t['share']:.0%} with empathy adjustments versus {h['share']:.0%} in the holdout "
            f"(difference {item['diff'] * 100:+.1f} points, 95% CI {item['diff_low'] * 100:+.1f} to "
            f"{item['diff_high'] * 100:+.1f}; {t['n']:,} and {h['n']:,} users)")


def verdict(items: list[dict]) -> str:
    """One plain sentence: is any difference distinguishable from noise yet, and which way."""
    tested = [i for i in items if i["comparable"]]
    if not tested:
        people = next((i for i in items if i["outcome"] == "cancelled"), {})
        t, h = (people.get("treatment") or {}).get("n", 0), (people.get("holdout") or {}).get("n", 0)
        return (f"Too few users to compare yet: each group needs at least {MIN_GROUP} enrolled users (and as many "
                f"who were ever frustrated or at_risk, for recovery); treatment has {t:,}, the holdout {h:,}.")
    found = [i for i in tested if i.get("distinguishable")]
    if not found:
        return ("Not distinguishable from noise yet: no outcome differs between the groups by more than chance "
                "would explain (95% intervals, Holm-corrected across the five outcomes). Closest: "
                + _sentence(min(tested, key=lambda i: i["p"])) + ".")
    parts = []
    for i in found:
        good = (i["diff"] > 0) == i["better_up"]
        parts.append(("better" if good else "worse") + " for " + _sentence(i))
    return "Distinguishable from noise: the empathy adjustments do " + "; and ".join(parts) + "."


def report(rows: list[dict]) -> dict:
    """The uplift page's content from the read model's counts: all weeks together, then each week."""
    columns = ("users", "troubled", "recovered", "cancelled", "paid", "replied", "clicked")
    total: dict = defaultdict(lambda: defaultdict(int))
    weeks: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for r in rows:
        group = bool(r["holdout"])
        for c in columns:
            total[group][c] += int(r[c] or 0)
            weeks[r["cohort"]][group][c] += int(r[c] or 0)
    overall = compare(total)
    return {"overall": overall, "verdict": verdict(overall),
            "groups": {g: dict(v) for g, v in total.items()},
            "weeks": [{"cohort": w, "groups": {g: dict(v) for g, v in weeks[w].items()}, "items": compare(weeks[w])}
                      for w in sorted(weeks, reverse=True)]}
