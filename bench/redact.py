"""What the redaction costs: false positives on ordinary customer text, and speed.

Runs ``empathy.redact.redact`` over every text of the shared sentiment datasets (tweets to a support
account, app-store reviews, TweetEval) and over the hand-written support messages in tests/data: texts
written by customers, not PII test cases, so (nearly) every change is a false positive. Prints how many
texts changed, by placeholder, with the changes themselves so a person can judge each one (a real phone
number or address in a public tweet is a true positive). Speed is texts per second, against a bare
baseline in the same run: one email regex over the same texts (what any redaction costs at least).

    .venv/bin/python bench/redact.py [--show 40] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from empathy import redact  # noqa: E402

PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|SSN|ADDRESS|NAME)\]")


def datasets(data: Path) -> dict[str, list[str]]:
    out = {}
    for name, file in (("apple-twitter-sentiment", "texts.txt"), ("chatgpt-app-reviews", "texts.txt"),
                       ("tweeteval-sentiment-val", "val_text.txt")):
        path = data / name / file
        if path.exists():
            out[name] = path.read_text(encoding="utf-8").splitlines()
    support = ROOT / "tests" / "data" / "support_messages.tsv"
    out["support_messages (tests/data)"] = [line.split("\t", 1)[1] for line in support.read_text().splitlines()
                                            if line and not line.startswith("#") and "\t" in line]
    return out


def timed(fn, texts: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=40, help="changed texts to print")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    sets = datasets(args.data)
    everything = [t for texts in sets.values() for t in texts]
    shown = 0
    print(f"{'dataset':34} {'texts':>6} {'changed':>8} {'rate':>7}  by placeholder")
    for name, texts in sets.items():
        kinds: Counter = Counter()
        changed = 0
        for text in texts:
            out = redact.redact(text)
            if out != text:
                changed += 1
                kinds.update(PLACEHOLDER.findall(out))
                if shown < args.show:
                    shown += 1
                    print(f"    - {text[:160]!r}\n      {out[:160]!r}")
        print(f"{name:34} {len(texts):6} {changed:8} {changed / max(1, len(texts)):7.2%}  {dict(kinds)}")

    email_only = re.compile(redact._EMAIL_RE.pattern)
    base = timed(lambda t: email_only.sub("[EMAIL]", t), everything)
    full = timed(redact.redact, everything)
    digits = [t for t in everything if redact._PHONE_RUN.search(t)]
    phones = timed(redact._phone_spans, digits)
    n = len(everything)
    print(f"\nspeed over {n} texts (best of 3):")
    print(f"  baseline (one email regex):  {n / base:10,.0f} texts/s")
    print(f"  redact (everything):         {n / full:10,.0f} texts/s   ({full / base:.1f}x the baseline)")
    print(f"  phone matcher alone, on the {len(digits)} texts with a run of 7+ digits: "
          f"{len(digits) / phones:,.0f} texts/s ({len(redact.PHONE_REGIONS)} regions)")


if __name__ == "__main__":
    main()
