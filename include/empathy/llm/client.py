"""One OpenAI client per task: typed answers, the reason when there is none, usage, bounded concurrency.

The client comes from the provider's ``OpenAIHook`` (``empathy.connections.openai_client``), with
Empathy's timeout and retries; the SDK's own retries wait out 429 (honouring ``Retry-After``), 5xx and
timeouts. Answers are typed: ``chat.completions.parse`` with a pydantic model as ``response_format``
(a strict JSON schema on the wire, validated again on the way back). Anything that is not a usable
answer raises ``Unusable`` with a short reason that ends up in the record (``UserJudgement.fallback``,
the email's ``rewrite_note``), never a crash.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)


class Unusable(Exception):
    """An answer that arrived but cannot be used, or none arrived; the message is the reason."""


def response_format(answer_type: type[BaseModel]) -> dict:
    """The strict JSON-schema ``response_format`` the SDK sends for ``answer_type`` (the same for the Batch API)."""
    from openai.lib import type_to_response_format_param

    return type_to_response_format_param(answer_type)


def request_body(model: str, messages: list[dict], answer_type: type[BaseModel]) -> dict:
    """The exact chat.completions request body: what is hashed for the cache and written for the Batch API."""
    return {"model": model, "messages": messages, "response_format": response_format(answer_type)}


def request_key(body: dict) -> str:
    """sha256 of a request body: identical requests share one answer (and one cache row)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def parse_answer(content: str | None, answer_type: type[BaseModel]):
    """A message's content as ``answer_type``, or Unusable (garbage, or a schema violation: never clamped)."""
    if not content:
        raise Unusable("openai: empty answer")
    try:
        return answer_type.model_validate_json(content)
    except ValidationError as exc:
        raise Unusable(_validation_reason(exc)) from None


def _validation_reason(exc: ValidationError) -> str:
    errors = exc.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        return "openai: garbage answer (not JSON)"
    return "openai: schema violation (" + ",".join(".".join(map(str, e["loc"])) or "answer" for e in errors[:3]) + ")"


def error_reason(exc: Exception) -> str:
    """A failed request in a few words, for the record."""
    import openai

    if isinstance(exc, Unusable):
        return str(exc)
    if isinstance(exc, openai.LengthFinishReasonError):
        return "openai: answer cut off (length)"
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return "openai: answer withheld (content_filter)"
    if isinstance(exc, openai.APITimeoutError):
        return "openai: timeout (retries exhausted)"
    if isinstance(exc, openai.RateLimitError):
        return "openai: rate limited (429, retries exhausted)"
    if isinstance(exc, openai.APIStatusError):
        return f"openai: HTTP {exc.status_code} (retries exhausted)" if exc.status_code >= 500 else \
            f"openai: HTTP {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "openai: connection failed (retries exhausted)"
    if isinstance(exc, (ValueError, openai.APIResponseValidationError)):
        return f"openai: garbage answer ({type(exc).__name__})"
    return f"openai: {type(exc).__name__}"


def model_for(settings) -> str:
    """The model: the connection's extra ``model``, else ``settings.openai_model``."""
    from empathy.connections import get_connection

    conn = get_connection(settings.openai_conn_id)
    return str((conn.extra.get("model") if conn else None) or settings.openai_model)


class LLM:
    """The OpenAI client of one task, with the model, a usage tally and a bounded worker pool."""

    def __init__(self, settings, client=None, model: str | None = None):
        self.settings = settings
        self.client = client
        self.model = str(model or model_for(settings))
        self._lock = threading.Lock()
        self.usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}

    @classmethod
    def connect(cls, settings) -> LLM | None:
        """The LLM of connection ``settings.openai_conn_id``, or None when it is not configured."""
        from empathy.connections import openai_client

        client = openai_client(settings.openai_conn_id, settings.llm_timeout_s, settings.llm_max_retries)
        return cls(settings, client) if client is not None else None

    def count(self, usage) -> None:
        with self._lock:
            self.usage["requests"] += 1
            self.usage["prompt_tokens"] += getattr(usage, "prompt_tokens", 0) or 0
            self.usage["completion_tokens"] += getattr(usage, "completion_tokens", 0) or 0

    def parse(self, messages: list[dict], answer_type: type[BaseModel], **options):
        """The model's typed answer to ``messages``, or Unusable with the reason."""
        try:
            completion = self.client.chat.completions.parse(
                model=self.model, messages=messages, response_format=answer_type, **options)
        except ValidationError as exc:  # the SDK parsed the content and it does not fit the schema
            raise Unusable(_validation_reason(exc)) from None
        except Unusable:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded reason
            raise Unusable(error_reason(exc)) from None
        self.count(getattr(completion, "usage", None))
        return answer_of(completion, answer_type)

    def map(self, fn, items: list) -> list:
        """``[fn(x) for x in items]`` with at most ``settings.llm_concurrency`` requests in flight, in order."""
        items = list(items)
        workers = max(1, min(self.settings.llm_concurrency, len(items)))
        if workers <= 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="empathy-llm") as pool:
            return list(pool.map(fn, items))


def answer_of(completion, answer_type: type[BaseModel]):
    """The typed answer of a (parsed or plain) chat completion, or Unusable: refusal, cut off, empty."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise Unusable("openai: garbage answer (no choices)")
    choice = choices[0]
    message = choice.message
    if getattr(message, "refusal", None):
        raise Unusable("openai: refused to answer")
    if choice.finish_reason == "length":
        raise Unusable("openai: answer cut off (length)")
    if choice.finish_reason == "content_filter":
        raise Unusable("openai: answer withheld (content_filter)")
    parsed = getattr(message, "parsed", None)
    if isinstance(parsed, answer_type):
        return parsed
    return parse_answer(message.content, answer_type)
