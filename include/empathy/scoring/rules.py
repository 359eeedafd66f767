"""The rules engine: VADER's lexicon and rules, plus the language of customer support.

Why not plain VADER: it was built for social media and reads support messages poorly ("still not
working" is neutral to it, "problem solved" negative, "thanks for nothing" positive). This engine keeps
VADER's lexicon (``data/vader_lexicon.txt``, MIT, see ``data/LICENSE-vaderSentiment.txt``) and its rules
(negation, boosters and dampeners, ALL CAPS, exclamation marks, the "but" shift), and adds:

- ``data/support_lexicon.tsv``: support and service words VADER lacks (crash, outage, delayed, unusable...);
- ``data/support_phrases.tsv``: multi-word expressions that replace the scores of their words
  ("still not working", "nobody answered", "charged twice", "works now", "that did the trick");
- sarcasm ("oh great", "thanks for cancelling", #fail) and politeness ("please", "thanks") that count
  one way when the message complains and another when it does not;
- ``data/emoji.tsv``: emoji valences; inflections (crashes -> crash) and elongations (sooo -> so);
- negation that stops at the end of a clause; a booster that boosts nothing is a word of its own ("super").

``Rules.evidence(text)`` returns the score and the units (words, phrases, emoji) that moved it: the trained
layer (``model.py``) reads those, never this module's internals. Pure Python, no I/O after the first load.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path

from empathy.scoring.wordlists import (
    BOOSTER_BIGRAMS,
    BOOSTERS,
    C_INCR,
    CANNOT_FORMS,
    EP_INCR,
    EP_MAX,
    GREETINGS,
    N_SCALAR,
    NEGATORS,
    NOT_FORMS,
    POLITE_WORDS,
    PRAISE_ALONE,
    SARCASM_CUES,
    SERVICE_NOUNS,
    SPEAKER_WORDS,
    STOP_COMMA,
    STOP_SENTENCE,
)

DATA = Path(__file__).with_name("data")


# Kinds of unit in ``Evidence.units``.
WORD, SUPPORT, PHRASE, EMOJI, NEGATION, POLITE = "word", "support", "phrase", "emoji", "negation", "polite"

_IGNORED_MARKS = re.compile("[\ufe0f\ufe0e\u200d\U0001f3fb-\U0001f3ff]")
_NOT_WORDS = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@\w+")   # links and @handles ("@united") are no words
_TOKEN = re.compile(r"""
    (?P<emo>(?<![\w])(?:</?3|[:;=8xX]['\-o^]?[)\](\[dDpP/\\|@3*oO0$]+|[)\](\[]+['\-^]?[:;=]|\^_?\^|-_-|T_T)
        (?=\s|$|[.,!?]))
  | (?P<word>[^\W_][\w'\-]*)
  | (?P<punct>[.,;:!?]+)
  | (?P<sym>[^\s\w])
""", re.VERBOSE)
ELONGATED = re.compile(r"(.)\1{2,}")
LITERAL_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")   # "doesn\u2019t" as exported by some tools


def decode_escapes(text: str) -> str:
    """Literal ``\\u2019`` escapes and HTML entities (``&amp;``, ``&gt;``: as some exports write them) turned
    into the characters they name ("&gt;" is not VADER's *gt*, +1.1)."""
    text = LITERAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "\\u" in text else text
    return html.unescape(text) if "&" in text else text


def normalise_negator(word: str) -> str:
    """The form a word takes in phrase keys: every negator spelled "not", "no one" spelled "nobody", a
    number "<num>" ("on hold for <num> hours")."""
    if word in NOT_FORMS or word.endswith("n't"):
        return "not"
    return "nobody" if word in ("noone", "no-one") else "<num>" if word.isdigit() else word


def base_forms(word: str):
    """Candidate base forms of an inflected word: crashes -> crash, crashed -> crash, bugs -> bug."""
    if word.endswith("ies"):
        yield word[:-3] + "y"
    if word.endswith("es"):
        yield word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        yield word[:-1]
    for suffix in ("ed", "ing"):
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            yield stem
            yield stem + "e"
            if len(stem) > 2 and stem[-1] == stem[-2]:
                yield stem[:-1]


def _read_tsv(name: str) -> list[list[str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


@dataclass(frozen=True)
class Lexicons:
    """The read-only word lists, loaded once per process."""

    words: dict[str, float]                          # VADER's lexicon with the support words on top
    support: dict[str, float]                        # the support words alone
    phrases: dict[tuple[str, ...], tuple[float, bool]]   # key -> (valence, counts only in a complaint)
    emoji: dict[str, float]
    phrase_sizes: dict[str, list[int]]               # first word -> phrase lengths, longest first


@lru_cache(maxsize=1)
def lexicons() -> Lexicons:
    words: dict[str, float] = {}
    for row in _read_tsv("vader_lexicon.txt"):
        words[row[0]] = float(row[1])
    support = {word: float(valence) for word, valence, *_ in _read_tsv("support_lexicon.tsv")}
    words.update(support)
    phrases: dict[tuple[str, ...], tuple[float, bool]] = {}
    for pattern, valence, *flags in _read_tsv("support_phrases.tsv"):
        choices = []
        for part in pattern.split():
            options = part.split("|")
            choices.append([normalise_negator(o) for o in options if o != "?"] + ([""] if "?" in options else []))
        for combo in product(*choices):
            key = tuple(w for w in " ".join(combo).split() if w)
            if key:
                phrases[key] = (float(valence), "sarcasm" in flags)
    emoji = {e: float(v) for e, v, *_ in _read_tsv("emoji.tsv")}
    sizes: dict[str, set[int]] = {}
    for key in phrases:
        sizes.setdefault(key[0], set()).add(len(key))
    return Lexicons(words, support, phrases, emoji, {k: sorted(v, reverse=True) for k, v in sizes.items()})


@dataclass(frozen=True)
class RuleParams:
    """The few global knobs of the rules, chosen on validation folds by scripts/train_sentiment.py."""

    but_before: float = 0.5         # weight of what comes before "but"
    but_after: float = 1.5          # ... and after it
    clause_negation: bool = True    # negation and boosters stop at , . ; ! ?
    inflections: bool = True        # crashes -> crash for the support words (VADER lists its own forms)
    elongation_boost: float = 0.293  # "sooo gooood" counts like "very good"
    bare_negation: float = -0.5     # valence of a negator that negates no sentiment word ("don't get it")
    bare_cannot: float = -1.2       # ... when it is "can't"/"cannot" ("can't queue songs")
    complaint: float = -1.0         # negative valence (summed) from which a message complains
    praise_alone: float = -1.8      # a praise word as a sentence of its own, in a message that complains
    objective_damp: float = 0.7     # multiplier for texts with no sign of a speaker (I, you, !, emoticon)
    short_text: int = 3             # texts of at most this many tokens are reactions ("cool"): never damped
    names: bool = True              # rated words inside capitalised names and headlines are set aside (Evidence.names)
    alpha: float = 15.0             # VADER's normalisation constant


@dataclass(frozen=True, slots=True)
class Unit:
    """One word, phrase, emoji or bare negator that moved the score, with its final valence."""

    text: str
    valence: float
    kind: str            # WORD, SUPPORT, PHRASE, EMOJI, NEGATION or POLITE


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the rules read in one text: the compound score (-1..1) and the units behind it."""

    score: float
    units: tuple[Unit, ...] = ()
    words: int = 0           # tokens read (words, emoji, emoticons)
    speaker: bool = False    # I/we/you/please... present: a person speaking, not a headline
    complains: bool = False  # negative units summing to <= RuleParams.complaint: politeness and sarcasm then
                             # read as such
    names: float = 0.0       # valence of rated words read as parts of names ("Pride Parade"), not in the score


NO_EVIDENCE = Evidence(0.0)


class Rules:
    """VADER-style rules with the support domain on top; see the module docstring."""

    def __init__(self, params: RuleParams | None = None):
        self.params = params or RuleParams()
        self.lex = lexicons()
        self._lookup = lru_cache(maxsize=200_000)(self._lookup_uncached)

    def score(self, text: str) -> float:
        return self.evidence(text).score

    def explain(self, text: str) -> list[tuple[str, float]]:
        """The words and phrases that moved the score, with their final valences (for people and tests)."""
        return [(u.text, round(u.valence, 3)) for u in self.evidence(text).units]

    # ---- words -------------------------------------------------------------------------------
    def _lookup_uncached(self, word: str) -> tuple[float | None, bool, bool]:
        """Valence of a lower-cased word (None if unknown), whether it was elongated, whether a support word."""
        lex = self.lex.words
        if word.isdigit() or len(word) == 1:   # order numbers, not VADER's "143"; "L.A." is no *l* (+2.0)
            return None, False, False
        if word in lex:
            return lex[word], False, word in self.lex.support
        if ELONGATED.search(word):
            for cand in (ELONGATED.sub(r"\1\1", word), ELONGATED.sub(r"\1", word)):
                value, _, support = self._lookup(cand)
                if value is not None:
                    return value, True, support
            return None, False, False
        if self.params.inflections and len(word) > 4:
            for cand in base_forms(word):
                if cand in self.lex.support:
                    return self.lex.support[cand], False, True
        return None, False, False

    def _tokens(self, text: str):
        """Words (with case, boundary before, emphasis) and emoji/emoticon valences, in order."""
        words: list[str] = []
        upper: list[bool] = []
        title: list[bool] = []
        fixed: list[float | None] = []     # valence decided at tokenisation (emoji, emoticons)
        bound: list[int] = []              # strongest punctuation since the previous word
        pending = STOP_SENTENCE
        text = _IGNORED_MARKS.sub("", decode_escapes(text))
        for m in _TOKEN.finditer(_NOT_WORDS.sub(" ", text) if "@" in text or "/" in text else text):
            kind = m.lastgroup
            tok = m.group()
            if kind == "word":
                low = tok.lower().replace("\u2019", "'").strip("'-")
                if not low:
                    continue
                if low == "one" and words and words[-1] == "no" and pending == 0:
                    words[-1] = "nobody"
                    continue
                words.append(low)
                upper.append(len(tok) > 1 and tok.isupper())
                title.append(tok[0].isupper())
                fixed.append(None)
                bound.append(pending)
                pending = 0
            elif kind == "punct":
                pending = max(pending, STOP_COMMA if tok[0] in ",:" else STOP_SENTENCE)
            elif kind == "emo" or tok in self.lex.emoji:
                value = self.lex.emoji.get(tok) if kind != "emo" else self.lex.words.get(tok.lower())
                if value is None:
                    value = -1.5 if any(c in tok for c in "([/\\") else 1.5
                words.append(tok)
                upper.append(False)
                title.append(False)
                fixed.append(value)
                bound.append(pending)
                pending = 0
        return words, upper, fixed, bound, title

    # ---- one text ----------------------------------------------------------------------------
    def evidence(self, text: str) -> Evidence:
        """The compound score in -1..1 (0.0 for text with no sentiment-bearing word) and its units."""
        p = self.params
        words, upper, fixed, bound, title = self._tokens(text)
        n = len(words)
        if not n:
            return NO_EVIDENCE
        norms = [normalise_negator(w) for w in words]
        n_upper = sum(upper)
        cap_diff = 0 < n_upper < n
        stop = STOP_COMMA if p.clause_negation else STOP_SENTENCE + 1
        phrases, starts = self.lex.phrases, self.lex.phrase_sizes

        # (position, words spanned, valence, kind, valence if the message does not complain)
        found: list[tuple[int, int, float, str, float | None]] = []
        names = 0.0
        speaker = not SPEAKER_WORDS.isdisjoint(words)
        # names only where nobody speaks (a headline): "You Have The Worst Service" is a customer in capitals
        impersonal = p.names and not speaker and "!" not in text and all(f is None for f in fixed)
        i = 0
        while i < n:
            # 1. the longest phrase starting here that stays inside one sentence
            hit = None
            for size in starts.get(norms[i], ()):
                if size <= n - i:
                    key = tuple(norms[i:i + size])
                    if key in phrases and all(b < STOP_SENTENCE for b in bound[i + 1:i + size]):
                        hit = (size, *phrases[key])
                        break
            if hit:
                size, valence, sarcastic = hit
                if any(upper[i:i + size]) and cap_diff:
                    valence += C_INCR if valence > 0 else -C_INCR
                has_neg = any(w in NEGATORS for w in norms[i:i + size])
                valence = self._modifiers(valence, i, words, norms, upper, bound, cap_diff, stop,
                                          negate=not has_neg)
                norms[i:i + size] = [w if w not in NEGATORS else "<spent>" for w in norms[i:i + size]]  # used up
                fallback = None
                if sarcastic:
                    fallback = sum(self._lookup(w)[0] or 0.0 for w in words[i:i + size])
                polite = valence > 0 and not sarcastic and not POLITE_WORDS.isdisjoint(norms[i:i + size])
                kind = POLITE if polite else PHRASE
                found.append((i, size, valence, kind, fallback))
                i += size
                continue
            # 2. a single word, emoji or emoticon
            word = words[i]
            if fixed[i] is not None:
                found.append((i, 1, fixed[i], EMOJI, None))
                i += 1
                continue
            if (word in BOOSTERS and not self._stands_alone(i, words, fixed, bound, stop)) \
                    or (word in ("kind", "sort") and i + 1 < n and words[i + 1] == "of"):
                i += 1
                continue
            valence, elongated, support = self._lookup(word)
            if impersonal and valence is not None and self._in_name(i, words, upper, title, bound):
                names, i = names + valence, i + 1
                continue          # "Foo Fighters", "Pride Parade", "Rich Gedman": part of a name
            if valence is None:
                if p.bare_negation and norms[i] in NEGATORS:
                    value = p.bare_cannot if word in CANNOT_FORMS else p.bare_negation
                    found.append((i, 1, value, NEGATION, None))
                i += 1
                continue
            if word == "no" and i + 1 < n and self._lookup(words[i + 1])[0] is not None:
                i += 1
                continue          # "no" negates the next word instead of scoring itself
            if (upper[i] and cap_diff) or (elongated and p.elongation_boost):
                bump = C_INCR if upper[i] and cap_diff else p.elongation_boost
                valence += bump if valence > 0 else -bump
            valence = self._modifiers(valence, i, words, norms, upper, bound, cap_diff, stop, negate=True)
            if i > 0 and words[i - 1] == "least" and (i < 2 or words[i - 2] not in ("at", "very")):
                valence *= N_SCALAR
            kind = POLITE if word in POLITE_WORDS else SUPPORT if support else WORD
            alone = 0 < i and bound[i] >= STOP_SENTENCE and (i == n - 1 or bound[i + 1] >= STOP_SENTENCE)
            sour = valence > 0 and word in PRAISE_ALONE and alone   # "... cancelled again. Great.": sarcasm?
            found.append((i, 1, p.praise_alone, WORD, valence) if sour else (i, 1, valence, kind, None))
            i += 1

        if not found:
            return Evidence(0.0, (), n, speaker, names=names)
        complains = sum(v for _p, _s, v, _k, f in found if f is None and v < 0) <= p.complaint
        # sarcasm phrases count only when the message also complains; politeness only when it does not
        if any(f is not None for *_, f in found):
            sour = complains or any(w in SARCASM_CUES for w in words)
            found = [(pos, size, v if (f is None or sour) else f, kind, None)
                     for pos, size, v, kind, f in found]
        if complains:
            found = [(pos, size, min(v, 0.0) if kind == POLITE else v, kind, f)
                     for pos, size, v, kind, f in found]
        # contrast: what follows "but" matters more
        if "but" in words:
            b = words.index("but")
            found = [(pos, size, v * (p.but_before if pos < b else p.but_after), kind, f)
                     for pos, size, v, kind, f in found]
        units = tuple(Unit(" ".join(words[pos:pos + size]), v, kind) for pos, size, v, kind, _ in found)
        total = sum(u.valence for u in units)
        if total:
            total += math.copysign(_punctuation_emphasis(text), total)
        if p.objective_damp != 1.0 and "!" not in text and not any(f is not None for f in fixed) \
                and not speaker and n > p.short_text:
            total *= p.objective_damp
        return Evidence(total / math.sqrt(total * total + p.alpha), units, n, speaker, complains, names)

    def _in_name(self, i, words, upper, title, bound) -> bool:
        """A capitalised word (not a sentence's first, a greeting's or a short reaction's) in a run of
        capitalised words one of which no lexicon rates, none of them a thing customers judge ("Terrible
        Service"): a name or headline ("Foo Fighters", "Pride Parade")."""
        n, lo, hi = len(words), i, i
        if not title[i] or upper[i] or words[i] in GREETINGS or n <= self.params.short_text:
            return False
        while lo > 0 and bound[lo] == 0 and title[lo - 1]:
            lo -= 1
        while hi + 1 < n and bound[hi + 1] == 0 and title[hi + 1]:
            hi += 1
        if hi == lo or words[lo] in GREETINGS or (lo == i and bound[i] == STOP_SENTENCE) \
                or not SERVICE_NOUNS.isdisjoint(words[lo:hi + 1]):
            return False
        return any(self._lookup(words[j])[0] is None and not upper[j] and words[j] not in BOOSTERS
                   for j in range(lo, hi + 1) if j != i)

    def _stands_alone(self, i, words, fixed, bound, stop) -> bool:
        """A booster with a rating of its own that boosts nothing in its clause is a word ("super!")."""
        if self.lex.words.get(words[i]) is None:
            return False
        for j in range(i + 1, min(i + 4, len(words))):
            if bound[j] >= stop:
                break
            if fixed[j] is not None or self._lookup(words[j])[0] is not None:
                return False
        return True

    def _modifiers(self, valence, i, words, norms, upper, bound, cap_diff, stop, negate):
        """Boosters, dampeners and negators in the three words before position ``i`` (same clause)."""
        for k in (1, 2, 3):
            j = i - k
            if j < 0 or bound[j + 1] >= stop:
                break
            prev = words[j]
            if prev in BOOSTERS and self.lex.words.get(prev) is None:
                s = BOOSTERS[prev] if valence >= 0 else -BOOSTERS[prev]
                if upper[j] and cap_diff:
                    s += C_INCR if valence > 0 else -C_INCR
                valence += s * (1.0, 0.95, 0.9)[k - 1]
            elif j > 0 and (words[j - 1], prev) in BOOSTER_BIGRAMS:
                b = BOOSTER_BIGRAMS[(words[j - 1], prev)]
                valence += b if valence >= 0 else -b
            if negate and norms[j] in NEGATORS:
                if k > 1 and prev == "never" and words[j + 1] in ("so", "this"):
                    valence *= 1.25
                elif not (prev == "without" and k > 1 and "doubt" in words[j + 1:i]):
                    valence *= N_SCALAR
        return valence


def _punctuation_emphasis(text: str) -> float:
    """VADER: each "!" (up to four) and a run of "?" make the message stronger, whichever way it leans."""
    ep = min(text.count("!"), EP_MAX) * EP_INCR
    qm = text.count("?")
    return ep + (0.0 if qm <= 1 else qm * 0.18 if qm <= 3 else 0.96)
