"""Delivery: the outbox relay (``relay``), its senders (``slack``, ``sendgrid``) and previews (``preview``).

The pipeline calls ``claim`` (database) -> ``send`` (network, no database) -> ``record`` (database); holds
are applied in bulk where they are decided, and a simulation's previews are written in one step.
"""
from empathy.delivery.relay import claim, record, send, summarize

__all__ = ["claim", "record", "send", "summarize"]
