"""The offline text scorer: VADER's rules and lexicon, plus the language of customer support.

Why not plain VADER: it was built for social media and reads support messages poorly ("still not
working" is neutral to it, "problem solved" negative, "thanks for nothing" positive). This scorer keeps
VADER's lexicon (``data/vader_lexicon.txt``, MIT, see ``data/LICENSE-vaderSentiment.txt``) and its rules
(negation, boosters and dampeners, ALL CAPS, exclamation marks, the "but" shift), and adds:

- ``data/support_lexicon.tsv``: support and software words VADER lacks (crash, outage, unusable, fixed...);
- ``data/support_phrases.tsv``: multi-word expressions that replace the scores of their words
  ("still not working", "nobody answered", "charged twice", "works now", "that did the trick"), with
  sarcasm phrases ("oh great", "great, another ...") that count only when the message also complains;
- ``data/emoji.tsv``: emoji valences; inflections (crashes -> crash) and elongations (sooo -> so);
- negation that stops at the end of a clause, and a neutral band tuned for three-way labels;
- a trained layer (``model.py``, weights in ``data/sentiment_model.json``) that decides texts in which no
  support phrase or word speaks clearly (``score_text``).

Pure Python, no I/O after the first load: tens of thousands of short texts per second on one core.
Nothing here reads evaluation data; the few global parameters below were tuned once by bench/tweeteval.py.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path

from empathy.scoring.base import TextScore, UserContext, UserJudgement

DATA = Path(__file__).with_name("data")

# VADER's empirically derived constants (Hutto & Gilbert 2014).
B_INCR, B_DECR = 0.293, -0.293   # booster / dampener
C_INCR = 0.733                   # ALL CAPS emphasis
N_SCALAR = -0.74                 # negation flips and dampens
EP_INCR, EP_MAX = 0.292, 4       # per exclamation mark, at most four

# Words that turn into "not" for phrase matching and negation (n't-forms are caught by suffix).
NOT_FORMS = frozenset([
    "not", "cannot", "cant", "aint", "arent", "couldnt", "darent", "didnt", "doesnt", "dont", "hadnt",
    "hasnt", "havent", "isnt", "mightnt", "mustnt", "neednt", "oughtnt", "shant", "shouldnt", "wasnt",
    "werent", "wont", "wouldnt"
])
NEGATORS = NOT_FORMS | frozenset([
    "never", "none", "nope", "nor", "nothing", "nowhere", "neither", "without", "rarely", "seldom",
    "despite", "uhuh", "uh-uh", "no", "nobody"
])

BOOSTERS = {w: B_INCR for w in [
    "absolutely", "amazingly", "awfully", "completely", "considerable", "considerably", "decidedly",
    "deeply", "effing", "enormous", "enormously", "entirely", "especially", "exceptional",
    "exceptionally", "extreme", "extremely", "fabulously", "flipping", "flippin", "frackin", "fracking",
    "fricking", "frickin", "frigging", "friggin", "fully", "fuckin", "fucking", "fuggin", "fugging",
    "greatly", "hella", "highly", "hugely", "incredible", "incredibly", "intensely", "major", "majorly",
    "more", "most", "particularly", "purely", "quite", "really", "remarkably", "so", "substantially",
    "thoroughly", "total", "totally", "tremendous", "tremendously", "uber", "unbelievably", "unusually",
    "utter", "utterly", "very", "super"
]}
BOOSTERS.update({w: B_DECR for w in [
    "almost", "barely", "hardly", "kinda", "kindof", "kind-of", "less", "little", "marginal",
    "marginally", "occasional", "occasionally", "partly", "scarce", "scarcely", "slight", "slightly",
    "somewhat", "sorta", "sortof", "sort-of"
]})
BOOSTER_BIGRAMS = {("kind", "of"): B_DECR, ("sort", "of"): B_DECR, ("just", "enough"): B_DECR}

SARCASM_CUES = frozenset({"again", "another", "usual"})
# Words that show a person speaking about themselves or to someone: without any of them (and without
# "!" or an emoticon) a text reads like a headline or an announcement, which people label neutral.
SPEAKER_WORDS = frozenset([
    "i", "i'm", "im", "i've", "ive", "i'd", "i'll", "me", "my", "mine", "myself", "we", "we're",
    "we've", "we'll", "we'd", "us", "our", "ours", "you", "you're", "youre", "you've", "you'll",
    "you'd", "your", "yours", "u", "ur", "ya", "y'all", "yall", "lol", "lmao", "omg", "pls", "please",
    "thanks", "thank"
])
STOP_SENTENCE, STOP_COMMA = 2, 1

_IGNORED_MARKS = re.compile("[\ufe0f\ufe0e\u200d\U0001f3fb-\U0001f3ff]")
_TOKEN = re.compile(r"""
    (?P<emo>(?<![\w])(?:</?3|[:;=8xX]['\-o^]?[)\](\[dDpP/\\|@3*oO0$]+|[)\](\[]+['\-^]?[:;=]|\^_?\^|-_-|T_T)
        (?=\s|$|[.,!?]))
  | (?P<word>[^\W_][\w'\-]*)
  | (?P<punct>[.,;:!?]+)
  | (?P<sym>[^\s\w])
""", re.VERBOSE)
_ELONGATED = re.compile(r"(.)\1{2,}")
_LITERAL_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")   # "doesn\u2019t" as exported by some tools


def _read_tsv(name: str) -> list[list[str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


def _norm(word: str) -> str:
    """The form a word takes in phrase keys: every negator spelled "not", "no one" spelled "nobody"."""
    if word in NOT_FORMS or word.endswith("n't"):
        return "not"
    if word in ("noone", "no-one"):
        return "nobody"
    return word


@lru_cache(maxsize=1)
def _resources() -> tuple[dict, dict, dict, dict]:
    """Load the lexicons once per process (they are read-only after that)."""
    lexicon: dict[str, float] = {}
    for row in _read_tsv("vader_lexicon.txt"):
        lexicon[row[0]] = float(row[1])
    domain = {word: float(valence) for word, valence, *_ in _read_tsv("support_lexicon.tsv")}
    lexicon.update(domain)
    phrases: dict[tuple[str, ...], tuple[float, bool]] = {}
    for pattern, valence, *flags in _read_tsv("support_phrases.tsv"):
        choices = []
        for part in pattern.split():
            options = part.split("|")
            choices.append([_norm(o) for o in options if o != "?"] + ([""] if "?" in options else []))
        for combo in product(*choices):
            key = tuple(w for w in " ".join(combo).split() if w)
            if key:
                phrases[key] = (float(valence), "sarcasm" in flags)
    emoji = {e: float(v) for e, v, *_ in _read_tsv("emoji.tsv")}
    sizes: dict[str, list[int]] = {}
    for key in phrases:
        sizes.setdefault(key[0], []).append(len(key))
    starts = {first: sorted(set(ns), reverse=True) for first, ns in sizes.items()}
    return lexicon, domain, phrases, emoji, starts


@dataclass(frozen=True)
class LexiconParams:
    """The few global knobs, tuned on one half of TweetEval validation and checked on the other."""

    neg_threshold: float = 0.1      # score <= -neg_threshold -> negative
    pos_threshold: float = 0.3      # score >= pos_threshold -> positive
    but_before: float = 0.5         # weight of what comes before "but"
    but_after: float = 1.5          # ... and after it
    clause_negation: bool = True    # negation and boosters stop at , . ; ! ?
    inflections: bool = True        # crashes -> crash for the support words (VADER lists its own forms)
    elongation_boost: float = 0.293  # "sooo gooood" counts like "very good"
    question_damp: float = 1.0      # multiplier for texts that end in a question mark
    bare_negation: float = -0.5     # valence of a negator that negates no sentiment word ("don't get it")
    weak_scale: float = 1.0         # multiplier for lexicon words with |valence| < 1 (VADER's noisiest)
    objective_damp: float = 0.7     # multiplier for texts with no sign of a speaker (I, you, !, emoticon)
    alpha: float = 15.0             # VADER's normalisation constant
    use_model: bool = True          # let the trained layer (model.py) decide texts without support phrases
    domain_trust: float = 1.0       # |support phrase + support word valence| from which the lexicon decides
    model_min_words: int = 3        # shorter texts ("ok", "thanks") stay with the lexicon: tweets are longer


class LexiconScorer:
    """VADER-style scorer with the support domain on top; see the module docstring."""

    name = "lexicon"

    def __init__(self, params: LexiconParams | None = None):
        self.params = params or LexiconParams()
        self._lexicon, self._domain, self._phrases, self._emoji, self._starts = _resources()
        self._lookup = lru_cache(maxsize=200_000)(self._lookup_uncached)
        self._model = None
        if self.params.use_model:
            from empathy.scoring.model import SentimentModel
            self._model = SentimentModel(scorer=self)

    # ---- words -------------------------------------------------------------------------------
    def _lookup_uncached(self, word: str) -> tuple[float | None, bool]:
        """Valence of a lower-cased word (None if unknown) and whether it was elongated."""
        lex = self._lexicon
        if word.isdigit():
            return None, False        # ticket and order numbers, not VADER's "143" (I love you)
        if word in lex:
            return lex[word], False
        if _ELONGATED.search(word):
            for cand in (_ELONGATED.sub(r"\1\1", word), _ELONGATED.sub(r"\1", word)):
                value, _ = self._lookup(cand)
                if value is not None:
                    return value, True
            return None, False
        if self.params.inflections and len(word) > 4:
            for cand in _base_forms(word):
                if cand in self._domain:
                    return self._domain[cand], False
        return None, False

    def _tokens(self, text: str):
        """Words (with case, boundary before, emphasis) and emoji/emoticon valences, in order."""
        words: list[str] = []
        upper: list[bool] = []
        fixed: list[float | None] = []     # valence decided at tokenisation (emoji, emoticons)
        bound: list[int] = []              # strongest punctuation since the previous word
        pending = STOP_SENTENCE
        if "\\u" in text:
            text = _LITERAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        for m in _TOKEN.finditer(_IGNORED_MARKS.sub("", text)):
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
                fixed.append(None)
                bound.append(pending)
                pending = 0
            elif kind == "punct":
                pending = max(pending, STOP_COMMA if tok[0] in ",:" else STOP_SENTENCE)
            elif kind == "emo":
                value = self._lexicon.get(tok.lower())
                if value is None:
                    value = -1.5 if any(c in tok for c in "([/\\") else 1.5
                words.append(tok)
                upper.append(False)
                fixed.append(value)
                bound.append(pending)
                pending = 0
            elif tok in self._emoji:
                words.append(tok)
                upper.append(False)
                fixed.append(self._emoji[tok])
                bound.append(pending)
                pending = 0
        return words, upper, fixed, bound

    # ---- one text ----------------------------------------------------------------------------
    def explain(self, text: str) -> list[tuple[str, float]]:
        """The words and phrases that moved the score, with their final valences (for people and tests)."""
        trace: list[tuple[str, float]] = []
        self.score_one(text, trace)
        return trace

    def score_one(self, text: str, trace: list | None = None) -> float:
        """Compound score in -1..1 (0.0 for text with no sentiment-bearing word)."""
        p = self.params
        words, upper, fixed, bound = self._tokens(text)
        n = len(words)
        if not n:
            return 0.0
        norms = [_norm(w) for w in words]
        n_upper = sum(upper)
        cap_diff = 0 < n_upper < n
        stop = STOP_COMMA if p.clause_negation else STOP_SENTENCE + 1
        phrases, starts = self._phrases, self._starts

        units: list[tuple[int, float, float | None]] = []   # (position, valence, fallback if sarcasm)
        spans: dict[int, int] = {}                           # position -> words in the phrase found there
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
                fallback = None
                if sarcastic:
                    fallback = sum(self._lookup(w)[0] or 0.0 for w in words[i:i + size])
                units.append((i, valence, fallback))
                spans[i] = size
                i += size
                continue
            # 2. a single word, emoji or emoticon
            word = words[i]
            if fixed[i] is not None:
                units.append((i, fixed[i], None))
                i += 1
                continue
            if word in BOOSTERS or (word in ("kind", "sort") and i + 1 < n and words[i + 1] == "of"):
                i += 1
                continue
            valence, elongated = self._lookup(word)
            if valence is None:
                if p.bare_negation and norms[i] in NEGATORS:
                    units.append((i, p.bare_negation, None))
                i += 1
                continue
            if -1.0 < valence < 1.0:
                valence *= p.weak_scale
            if word == "no" and i + 1 < n and self._lookup(words[i + 1])[0] is not None:
                i += 1
                continue          # "no" negates the next word instead of scoring itself
            if (upper[i] and cap_diff) or (elongated and p.elongation_boost):
                bump = C_INCR if upper[i] and cap_diff else p.elongation_boost
                valence += bump if valence > 0 else -bump
            valence = self._modifiers(valence, i, words, norms, upper, bound, cap_diff, stop, negate=True)
            if i > 0 and words[i - 1] == "least" and (i < 2 or words[i - 2] not in ("at", "very")):
                valence *= N_SCALAR
            units.append((i, valence, None))
            i += 1

        if not units:
            return 0.0
        # sarcasm phrases count only when the message also complains
        if any(f is not None for _, _, f in units):
            complains = any(v < 0 for _, v, f in units if f is None) or any(w in SARCASM_CUES for w in words)
            units = [(pos, v if (f is None or complains) else f, None) for pos, v, f in units]
        # contrast: what follows "but" matters more
        if "but" in words:
            b = words.index("but")
            values = [v * (p.but_before if pos < b else p.but_after) for pos, v, _ in units]
        else:
            values = [v for _, v, _ in units]
        if trace is not None:
            trace.extend((" ".join(words[pos:pos + spans.get(pos, 1)]), round(v, 3))
                         for (pos, _, _), v in zip(units, values))
        total = sum(values)
        if total:
            total += math.copysign(_punctuation_emphasis(text), total)
        if p.objective_damp != 1.0 and "!" not in text and not any(f is not None for f in fixed) \
                and SPEAKER_WORDS.isdisjoint(words):
            total *= p.objective_damp
        if p.question_damp != 1.0 and text.rstrip().endswith("?"):
            total *= p.question_damp
        return total / math.sqrt(total * total + p.alpha)

    def _modifiers(self, valence, i, words, norms, upper, bound, cap_diff, stop, negate):
        """Boosters, dampeners and negators in the three words before position ``i`` (same clause)."""
        for k in (1, 2, 3):
            j = i - k
            if j < 0 or bound[j + 1] >= stop:
                break
            prev = words[j]
            if prev in BOOSTERS and self._lexicon.get(prev) is None:
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

    def label(self, score: float) -> str:
        if score <= -self.params.neg_threshold:
            return "negative"
        if score >= self.params.pos_threshold:
            return "positive"
        return "neutral"

    # ---- the TextScorer protocol ---------------------------------------------------------------
    def score_texts(self, texts: list[str]) -> list[TextScore]:
        return [self.score_text(text or "") for text in texts]

    def score_text(self, text: str) -> TextScore:
        """One text: the trained layer's verdict, unless support-domain phrases and words speak clearly.

        The model learnt from tweets; support tickets say "still broken" and "works now", which the
        lexicon knows and tweets rarely contain. So when those phrases and words carry |valence| >=
        ``domain_trust``, or the text is shorter than any tweet the model saw, the lexicon's label and
        score stand; otherwise the label is the most probable class and the score P(positive) - P(negative).
        """
        if self._model is None or len(text.split()) < self.params.model_min_words:
            s = max(-1.0, min(1.0, self.score_one(text)))
            return TextScore(label=self.label(s), score=round(s, 4))
        z, s, domain = self._model.logits(text)
        if abs(domain) >= self.params.domain_trust:
            return TextScore(label=self.label(s), score=round(s, 4))
        from empathy.scoring.model import CLASSES, softmax

        p = softmax(z)
        return TextScore(label=CLASSES[p.index(max(p))], score=round(max(-1.0, min(1.0, p[2] - p[0])), 4))

    def score_users(self, contexts: list[UserContext]) -> list[UserJudgement]:
        return [judge_user(ctx, self) for ctx in contexts]


RECENCY_DECAY = 0.6   # each older text weighs 0.6 of the one after it


def judge_user(ctx: UserContext, scorer: LexiconScorer) -> UserJudgement:
    """Combine a user's texts (latest first) into one judgement; the latest text counts most.

    Confidence grows with the number of texts and with how clearly they lean one way; a user with no
    text gets sentiment 0 and confidence 0, so the state machine leans on behaviour alone.
    """
    texts = [t.text for t in ctx.texts]
    scores = [ts.score for ts in scorer.score_texts(texts)]
    weights = [RECENCY_DECAY ** rank for rank in range(len(scores))]
    used = [(w, s) for w, s, t in zip(weights, scores, texts) if t and t.strip()]
    if not used:
        return UserJudgement(user_id=ctx.user_id, sentiment=0.0, confidence=0.0, text_scores=scores,
                             scorer=scorer.name)
    sentiment = sum(w * s for w, s in used) / sum(w for w, _ in used)
    coverage = 1.0 - 0.6 ** len(used)                  # 1 text 0.4, 3 texts 0.78, 5 texts 0.92
    strength = 0.4 + 0.6 * min(1.0, abs(sentiment) / 0.5)
    friction = ""
    worst = min(range(len(scores)), key=lambda k: scores[k])
    if sentiment < 0 and scores[worst] < 0:
        excerpt = " ".join(texts[worst].split())
        friction = f'Negative customer message: "{excerpt[:117] + "..." if len(excerpt) > 120 else excerpt}"'
    return UserJudgement(user_id=ctx.user_id, sentiment=round(max(-1.0, min(1.0, sentiment)), 4),
                         confidence=round(min(0.95, coverage * strength), 3), text_scores=scores,
                         scorer=scorer.name, friction=friction)


def _base_forms(word: str):
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


def _punctuation_emphasis(text: str) -> float:
    """VADER: each "!" (up to four) and a run of "?" make the message stronger, whichever way it leans."""
    ep = min(text.count("!"), EP_MAX) * EP_INCR
    qm = text.count("?")
    return ep + (0.0 if qm <= 1 else qm * 0.18 if qm <= 3 else 0.96)
