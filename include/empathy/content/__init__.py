"""What Empathy says: campaigns and their emails (``campaigns``, ``emails``), concierge alerts in Slack
(``slack``). Customer values reach a customer or a channel only through the checks in these modules."""
