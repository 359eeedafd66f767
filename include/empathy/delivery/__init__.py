"""Delivery: the outbox relay (``relay``), its senders (``slack``, ``sendgrid``) and previews (``preview``).

The pipeline calls ``claim`` -> ``send`` -> ``record`` (or ``deliver`` for all three in one process).
"""
from empathy.delivery.relay import claim, deliver, record, send, summarize

__all__ = ["claim", "deliver", "record", "send", "summarize"]
