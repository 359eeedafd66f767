"""Demo data: realistic customer journeys as Segment-spec JSON Lines, seeded and reproducible.

Three parts, all written into the landing folder the way an export would drop them:

* journeys (``personas.py``, built with ``journey.py``): named personas (the seed's User A and User B,
  delighted users, explorers, confused docs readers, frustrated users, security reviewers, ...), each
  showing exactly one pattern the detectors look for. ``EXPECTED`` (``expected.py``) says what each
  should become, so the persona oracle and a person reading the demo can check the pipeline's verdicts.
* hostile lines (``hostile.py``): one file the ingest must quarantine (or count as a duplicate), so the
  demo shows the quarantine working instead of hoping nobody sends garbage.
* background users (``background.py`` over ``templates.py``): many generated users, built from
  pre-rendered string templates and numpy arrays so a million events take seconds, not minutes.

``landing.py`` writes them (``generate``), ``cli.py`` is ``python -m empathy demo-data``. Everything is a
pure function of ``seed`` and ``start``: the same pair writes the same bytes (file names included), so
``make demo`` twice in one hour lands nothing new, and a later hour lands a new day of activity for the
same people.
"""
from __future__ import annotations

from empathy.demo.background import generate_events
from empathy.demo.catalog import ACCOUNTS, ANON_VISITOR, HIGH_VALUE_MRR, MAX_EVENT_BYTES, TRACKING_PLAN
from empathy.demo.cli import main
from empathy.demo.expected import EXPECTED, PERSONAS
from empathy.demo.hostile import HOSTILE_OUTCOMES
from empathy.demo.landing import generate

__all__ = ["ACCOUNTS", "ANON_VISITOR", "EXPECTED", "HIGH_VALUE_MRR", "HOSTILE_OUTCOMES", "MAX_EVENT_BYTES",
           "PERSONAS", "TRACKING_PLAN", "generate", "generate_events", "main"]
