"""What the demo's events are made of: the tracking plan, the libraries and browsers that send them, and
the accounts the personas belong to. Shared by the persona journeys, the hostile lines and the background
generator, so they cannot disagree about an event's shape or an account's value."""
from __future__ import annotations

MAX_EVENT_BYTES = 32 * 1024  # Segment's own limit; the hostile file has one line over it

# The tracking plan (CONTRACT.md): event -> properties the detectors read.
TRACKING_PLAN: dict[str, tuple[str, ...]] = {
    "Element Clicked": ("element", "path"),
    "API Request": ("endpoint", "status_code"),  # + error_message when status_code >= 400
    "Command Executed": ("command",),
    "Search Performed": ("query",),
    "Support Ticket Created": ("ticket_id", "subject", "text", "author"),
    "Support Message Sent": ("ticket_id", "text", "author"),
    "Support Ticket Resolved": ("ticket_id", "author"),
    "Payment Failed": ("invoice_id", "amount", "currency", "reason"),
    "Payment Succeeded": ("invoice_id", "amount", "currency"),
    "Signed Up": ("plan",),
    "Trial Started": ("plan",),
    "Subscription Cancelled": ("plan", "reason"),
    "Unsubscribed": ("email_id", "list"),
    "Email Opened": ("email_id", "list"),
    "Email Link Clicked": ("email_id", "list"),
    # other tools' names for an already-detected rage click (the contract counts them)
    "$rageclick": (),
    "$mp_rage_click": (),
}

APP = "https://app.example.com"
LIB_JS = {"name": "analytics.js", "version": "next-1.70.0"}
LIB_PY = {"name": "analytics-python", "version": "2.3.3"}
LIB_MOBILE = {"name": "analytics-ios", "version": "4.1.8"}
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0",
)

# --------------------------------------------------------------------------------------------
# Accounts (group calls). High value = mrr >= 1000 (EMPATHY_HIGH_VALUE_MRR); those have an
# account manager to alert, except acct_wayne (alerts go to the fallback channel).
# --------------------------------------------------------------------------------------------
ACCOUNTS: dict[str, dict] = {
    "acct_hooli": {"name": "Hooli", "mrr": 12000, "account_manager_slack_id": "U0AMHOOLI1", "plan": "enterprise"},
    "acct_globex": {"name": "Globex Corporation", "mrr": 4800, "account_manager_slack_id": "U0AMGLOBX2", "plan": "business"},
    "acct_wayne": {"name": "Wayne Analytics", "mrr": 3000, "plan": "business"},
    "acct_initrode": {"name": "Initrode", "mrr": 2500, "account_manager_slack_id": "U0AMINTRD3", "plan": "business"},
    "acct_umbrella": {"name": "Umbrella Health", "mrr": 1500, "account_manager_slack_id": "U0AMUMBRL4", "plan": "business"},
    "acct_stark": {"name": "Stark Logistics", "mrr": 1000, "account_manager_slack_id": "U0AMSTARK5", "plan": "team"},
    "acct_acme": {"name": "Acme Tools", "mrr": 990, "plan": "team"},
    "acct_vandelay": {"name": "Vandelay Imports", "mrr": 300, "plan": "starter"},
    "acct_piedpiper": {"name": "Pied Piper", "mrr": 49, "plan": "starter"},
}
HIGH_VALUE_MRR = 1000

ANON_VISITOR = "7c1e9a52-5d0b-4f6e-9a43-d3e0c2b8f101"  # an anonymousId that never identifies


def page_title(path: str) -> str:
    """The title a page's last path segment gives it ("/docs/cli/deploy" -> "Deploy | Empathy")."""
    last = [p for p in path.strip("/").split("/") if p]
    return (last[-1].replace("-", " ").title() if last else "Home") + " | Empathy"
