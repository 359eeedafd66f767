"""A small builder for persona journeys: each person appends Segment calls with a moving clock, and the
world they share holds the seeded randomness, the demo's end (`start`) and every call made so far.

Browser calls carry `context.page`, `userAgent`, `ip` and a `Z` timestamp with milliseconds; server calls
(API requests, commands, payments, agent replies) carry the server library and a `+00:00` timestamp, as
Segment's own libraries send them.
"""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from empathy.demo.catalog import ACCOUNTS, APP, LIB_JS, LIB_MOBILE, LIB_PY, USER_AGENTS, page_title


def iso_ms(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Journey:
    """One person's calls. Browser calls carry context.page/userAgent/ip; server calls do not."""

    def __init__(self, world: World, user_id: str | None, *, anonymous_id: str | None = None, ua: int = 0,
                 ip: str = "203.0.113.10"):
        self.world, self.user_id, self.anonymous_id = world, user_id, anonymous_id
        self.ua, self.ip = USER_AGENTS[ua % len(USER_AGENTS)], ip
        self.t = world.start
        self.path = "/"

    # clock -------------------------------------------------------------------------------
    def at(self, hours_ago: float) -> Journey:
        self.t = self.world.start - timedelta(hours=hours_ago) + timedelta(seconds=self.world.rng.uniform(0, 59))
        return self

    def wait(self, seconds: float, jitter: float = 0.25) -> Journey:
        if jitter:
            seconds *= 1 + self.world.rng.uniform(-jitter, jitter)
        self.t += timedelta(seconds=seconds)
        return self

    # calls --------------------------------------------------------------------------------
    def _call(self, kind: str, *, server=False, mobile=False, **fields) -> dict:
        if self.t >= self.world.start:
            raise ValueError(f"journey of {self.user_id} runs past start ({self.t} >= {self.world.start})")
        ev = {"type": kind, "messageId": self.world.message_id()}
        if self.user_id:
            ev["userId"] = self.user_id
        if self.anonymous_id and (not self.user_id or not server):
            ev["anonymousId"] = self.anonymous_id
        # server libraries send isoformat with an offset; browsers send Z with milliseconds
        ev["timestamp"] = (self.t.astimezone(UTC).isoformat(timespec="milliseconds") if server
                           else iso_ms(self.t))
        ev.update(fields)
        if server:
            ev["context"] = {"library": LIB_PY}
        elif mobile:
            ev["context"] = {"app": {"name": "Empathy", "version": "3.2.0"}, "device": {"type": "ios"},
                             "ip": self.ip, "library": LIB_MOBILE}
        else:
            ev["context"] = {"page": {"path": self.path, "url": APP + self.path, "title": page_title(self.path)},
                             "userAgent": self.ua, "ip": self.ip, "library": LIB_JS}
        self.world.add(ev)
        return ev

    def identify(self, **traits) -> dict:
        return self._call("identify", traits=traits)

    def group(self, account_id: str) -> dict:
        return self._call("group", groupId=account_id, traits=dict(ACCOUNTS[account_id]))

    def alias(self, previous_id: str) -> dict:
        return self._call("alias", previousId=previous_id)

    def page(self, path: str, name: str | None = None) -> dict:
        self.path = path
        props = {"path": path, "url": APP + path, "title": page_title(path)}
        return self._call("page", name=name or page_title(path), properties=props)

    def screen(self, name: str, **props) -> dict:
        return self._call("screen", mobile=True, name=name, properties=props)

    def track(self, event: str, server=False, **props) -> dict:
        return self._call("track", server=server, event=event, properties=props)

    def click(self, element: str) -> dict:
        return self.track("Element Clicked", element=element, path=self.path)

    def api(self, endpoint: str, status: int = 200, error: str | None = None, method: str = "GET") -> dict:
        props = {"endpoint": endpoint, "method": method, "status_code": status,
                 "duration_ms": int(self.world.rng.uniform(40, 900))}
        if status >= 400:
            props["error_message"] = error or "Request failed"
        return self.track("API Request", server=True, **props)

    def command(self, command: str, exit_code: int = 0) -> dict:
        return self.track("Command Executed", server=True, command=command, exit_code=exit_code)

    def search(self, query: str, results: int) -> dict:
        return self.track("Search Performed", query=query, results_count=results, path=self.path)

    def ticket(self, ticket_id: str, subject: str, text: str) -> dict:
        return self.track("Support Ticket Created", ticket_id=ticket_id, subject=subject, text=text,
                          author="customer", channel="in_app")

    def message(self, ticket_id: str, text: str, author: str = "customer") -> dict:
        return self.track("Support Message Sent", server=author != "customer",
                          ticket_id=ticket_id, text=text, author=author)

    def resolved(self, ticket_id: str) -> dict:
        return self.track("Support Ticket Resolved", server=True, ticket_id=ticket_id, author="agent")

    def lifecycle(self, event: str, plan: str) -> dict:
        return self.track(event, server=True, plan=plan)

    def email(self, event: str, email_id: str, list_: str = "onboarding") -> dict:
        return self.track(event, server=True, email_id=email_id, list=list_)

    def payment(self, event: str, invoice_id: str, amount: float, reason: str | None = None) -> dict:
        props = {"invoice_id": invoice_id, "amount": amount, "currency": "USD"}
        if reason:
            props["reason"] = reason
        return self.track(event, server=True, **props)


class World:
    def __init__(self, seed: int, start: datetime):
        self.seed, self.start = seed, start
        # seeding with a string is deterministic across runs and platforms (sha512 of the text)
        self.rng = random.Random(f"empathy-demo:{seed}:{start.isoformat()}")
        self.events: list[dict] = []

    def message_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, ev: dict) -> None:
        self.events.append(ev)

    def person(self, user_id, account_id, *, name, email, plan, tz, ua=0, ip="203.0.113.10",
               unsubscribed=None, signup: str | None = "Signed Up", signup_hours_ago: float = 70,
               anonymous_id=None) -> Journey:
        """A person who identifies, joins their account and (usually) signs up: the drip's enrolment."""
        j = Journey(self, user_id, ua=ua, ip=ip, anonymous_id=anonymous_id).at(signup_hours_ago)
        traits = {"email": email, "name": name, "plan": plan, "timezone": tz}
        if unsubscribed is not None:
            traits["unsubscribed"] = unsubscribed
        j.page("/signup")
        j.wait(40).identify(**traits)
        j.wait(1, 0).group(account_id)
        if signup:
            j.wait(2, 0).lifecycle(signup, plan)
        j.wait(20).page("/onboarding")
        return j

