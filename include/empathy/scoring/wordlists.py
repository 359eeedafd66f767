"""The rules engine's word lists and VADER's constants (``rules.py`` reads them; kept apart so the engine
reads as rules). Lower-case words, as ``Rules`` tokenises them."""
from __future__ import annotations

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

SARCASM_CUES = frozenset({"again", "usual"})
# Praise that is a sentence of its own after the first ("Flight cancelled again. Great."): sarcasm when the
# message complains, praise when it does not ("It works now. Great!").
PRAISE_ALONE = frozenset(["great", "perfect", "wonderful", "fantastic", "brilliant", "lovely", "awesome",
                          "amazing", "nice", "excellent", "terrific", "superb", "marvelous", "fabulous",
                          "splendid", "super", "sweet", "yay", "hooray", "bravo", "cool"])
# Words that show a person speaking about themselves or to someone: without any of them (and without
# "!" or an emoticon) a text reads like a headline or an announcement, which people label neutral.
SPEAKER_WORDS = frozenset([
    "i", "i'm", "im", "i've", "ive", "i'd", "i'll", "me", "my", "mine", "myself", "we", "we're",
    "we've", "we'll", "we'd", "us", "our", "ours", "you", "you're", "youre", "you've", "you'll",
    "you'd", "your", "yours", "u", "ur", "ya", "y'all", "yall", "lol", "lmao", "omg", "pls", "please",
    "thanks", "thank"
])
# Politeness: "please" and "thanks" inside a complaint are manners, not praise ("once again my bag is
# lost!!!! Please do something"); they keep their valence only when nothing in the message complains.
POLITE_WORDS = frozenset([
    "please", "pls", "plz", "plse", "kindly", "thanks", "thank", "thx", "thnx", "ty", "tia", "appreciate",
    "cheers",
])
# "can't queue songs": a customer who cannot do something is complaining, with or without a rated word.
CANNOT_FORMS = frozenset(["can't", "cant", "cannot", "couldn't", "couldnt"])
STOP_SENTENCE, STOP_COMMA = 2, 1
GREETINGS = frozenset(["happy", "merry", "good", "great", "best", "thank", "thanks", "congratulations", "congrats",
                       "welcome", "dear", "love", "warm", "kind", "nice", "lovely", "beautiful", "awesome", "amazing"])
# What customers judge: a capitalised run holding one of these is a verdict on it ("This is Terrible
# Service"), not a name or a headline, so its rated words count.
SERVICE_NOUNS = frozenset(["service", "support", "staff", "crew", "flight", "flights", "delivery", "order",
                           "customer", "experience", "app", "update", "product", "team", "agent", "help",
                           "refund", "airline", "company", "website", "quality"])
