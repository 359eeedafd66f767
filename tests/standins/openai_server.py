"""A stand-in for any OpenAI-compatible server: chat completions (and the Batch API's files/batches).

Answers come from a pluggable ``responder(request_json) -> dict | str | Reply``: a dict is sent as
the message content (JSON), a str as raw content, a ``Reply`` as the whole HTTP answer. The default
responder reads the ``<customer_data>`` JSON block Empathy sends and answers by keywords, within
whichever JSON schema the request asks for, so it is a plausible (and deterministic) model.

Scripting on top of the base class's HTTP faults (429 with Retry-After, 500, garbage, hang):
``refuse_next()`` (a ``message.refusal``), ``content_next(text)`` (a 200 whose content is
whatever you pass, e.g. broken JSON). Usage counts tokens approximately (characters / 4).
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque

from standins.base import Reply, Request, Standin

DATA_OPEN, DATA_CLOSE = "<customer_data>", "</customer_data>"

_NEGATIVE = ("broken", "still", "nobody", "useless", "cancel", "refund", "frustrat", "angry", "worst",
             "doesn't work", "does not work", "not working", "fail", "error", "waste", "terrible")
_POSITIVE = ("thanks", "thank you", "works now", "love", "great", "awesome", "perfect", "solved", "fixed")


def tokens(text: str) -> int:
    """Rough token count (OpenAI's rule of thumb: ~4 characters per token)."""
    return max(1, round(len(text) / 4)) if text else 0


def split_prompt(body: dict) -> tuple[str, dict | None]:
    """(everything in an instruction position, the parsed data block) as a naive model would see it.

    The instruction positions are the system/developer messages plus any user-message text outside
    the first ``<customer_data> ... </customer_data>`` pair; the data block is parsed as JSON (None
    when it is missing or not JSON).
    """
    instructions, data = [], None
    for message in body.get("messages", []):
        content = message.get("content") or ""
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if message.get("role") in ("system", "developer"):
            instructions.append(content)
            continue
        start = content.find(DATA_OPEN)
        end = content.find(DATA_CLOSE, start + len(DATA_OPEN)) if start >= 0 else -1
        if start < 0 or end < 0:
            instructions.append(content)
            continue
        instructions.append(content[:start] + content[end + len(DATA_CLOSE):])
        try:
            data = json.loads(content[start + len(DATA_OPEN):end])
        except ValueError:
            data = None
    return "\n".join(instructions), data


def _polarity(text: str) -> float:
    text = text.lower()
    neg = sum(w in text for w in _NEGATIVE)
    pos = sum(w in text for w in _POSITIVE)
    return 0.0 if neg == pos else max(-1.0, min(1.0, (pos - neg) / 2))


def keyword_answer(body: dict) -> dict:
    """A schema-valid answer from keywords in the data block (the default responder)."""
    _, data = split_prompt(body)
    data = data or {}
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    props = schema.get("properties", {})
    if "label" in props:  # one text
        score = _polarity(str(data.get("text", "")))
        return {"label": "negative" if score < 0 else "positive" if score > 0 else "neutral", "score": score}
    texts = [str(t.get("text", "")) for t in data.get("texts", [])]
    scores = [_polarity(t) for t in texts]
    sentiment = sum(scores) / len(scores) if scores else 0.0
    evidence = json.dumps(data.get("evidence", {})).lower()
    intents = [i for i, words in (("billing", ("invoice", "billing", "payment")),
                                  ("cancellation", ("cancel",)),
                                  ("security_review", ("soc 2", "soc2", "security")))
               if any(w in evidence or any(w in t.lower() for t in texts) for w in words)]
    state = ("at_risk" if "cancellation" in intents and sentiment < 0 else
             "frustrated" if sentiment < 0 else "delighted" if sentiment > 0.3 else "exploring")
    answer = {"sentiment": round(sentiment, 3), "state": state, "intents": intents,
              "confidence": 0.8 if texts else 0.4,
              "friction": "Something keeps failing for them." if sentiment < 0 else "",
              "text_sentiments": scores}
    return {k: v for k, v in answer.items() if not props or k in props}


class OpenAIStandin(Standin):
    """``with OpenAIStandin() as server:`` then point a connection's host at ``server.base_url + "/v1"``."""

    def __init__(self, responder=None, model: str = "gpt-4o-mini-standin"):
        super().__init__()
        self.responder = responder or keyword_answer
        self.model = model
        self._scripted: deque = deque()  # ("refusal"|"content", text)
        self._ids = itertools.count(1)
        self._files: dict[str, bytes] = {}
        self._batches: dict[str, dict] = {}
        self._batch_lock = threading.Lock()
        self.batch_polls_until_done = 1  # GET /batches/{id} answers in_progress this many times first
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "completions": 0}

    # --- scripting ----------------------------------------------------------------------------
    def connection(self, model: str = "gpt-4o-mini-test") -> str:
        """Airflow connection `openai_default` (JSON, for AIRFLOW_CONN_OPENAI_DEFAULT) pointing here."""
        return json.dumps({"conn_type": "openai", "host": self.base_url + "/v1",
                           "password": "sk-test-not-a-real-key", "extra": {"model": model}})

    def refuse_next(self, times: int = 1, message: str = "I'm sorry, I can't help with that.") -> None:
        for _ in range(times):
            self._scripted.append(("refusal", message))

    def content_next(self, content: str, times: int = 1) -> None:
        for _ in range(times):
            self._scripted.append(("content", content))

    def chat_bodies(self) -> list[dict]:
        """Every chat completion request body that arrived (faulted ones too), parsed."""
        return [r.json for r in self.requests if r.path.rstrip("/").endswith("chat/completions")]

    # --- the API ------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        path = request.path.split("?")[0].rstrip("/")
        path = path.removeprefix("/v1")
        if request.method == "POST" and path == "/chat/completions":
            return self._chat(request.json)
        if request.method == "GET" and path == "/models":
            return Reply(200, {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "standin"}]})
        if request.method == "POST" and path == "/files":
            return self._upload(request)
        if request.method == "GET" and re.fullmatch(r"/files/[\w-]+/content", path):
            file_id = path.split("/")[2]
            return Reply(200, self._files.get(file_id, b""), {"Content-Type": "application/octet-stream"})
        if request.method == "POST" and path == "/batches":
            return self._create_batch(request.json)
        if request.method == "GET" and re.fullmatch(r"/batches/[\w-]+", path):
            return self._poll_batch(path.split("/")[2])
        return Reply(404, {"error": {"message": f"no route {request.method} {path}", "type": "invalid_request_error"}})

    def completion(self, body: dict) -> tuple[dict, int]:
        """The chat.completion object (and HTTP status) for one request body."""
        refusal, content, finish = None, None, "stop"
        scripted = None
        with self._lock:
            if self._scripted:
                scripted = self._scripted.popleft()
        if scripted and scripted[0] == "refusal":
            refusal = scripted[1]
        elif scripted:
            content = scripted[1]
        else:
            answer = self.responder(body)
            if isinstance(answer, Reply):
                return answer, -1
            content = answer if isinstance(answer, str) else json.dumps(answer)
        prompt = json.dumps(body.get("messages", [])) + json.dumps(body.get("response_format") or {})
        usage = {"prompt_tokens": tokens(prompt), "completion_tokens": tokens(content or refusal or "")}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        with self._lock:
            self.usage["prompt_tokens"] += usage["prompt_tokens"]
            self.usage["completion_tokens"] += usage["completion_tokens"]
            self.usage["completions"] += 1
        return {
            "id": f"chatcmpl-standin-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}],
            "usage": usage,
        }, 200

    def _chat(self, body: dict) -> Reply:
        if not isinstance(body, dict) or not body.get("messages"):
            return Reply(400, {"error": {"message": "messages is required", "type": "invalid_request_error"}})
        completion, status = self.completion(body)
        return completion if status == -1 else Reply(status, completion)

    # --- Batch API ----------------------------------------------------------------------------
    def _upload(self, request: Request) -> Reply:
        match = re.search(rb"boundary=([^;\s]+)", request.headers.get("Content-Type", "").encode())
        content = request.body
        if match:  # multipart/form-data: take the part named "file"
            for part in request.body.split(b"--" + match.group(1).strip(b'"')):
                if b'name="file"' in part:
                    content = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
        file_id = f"file-standin-{next(self._ids)}"
        self._files[file_id] = content
        return Reply(200, {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                           "filename": "batch.jsonl", "purpose": "batch", "status": "processed"})

    def _create_batch(self, body: dict) -> Reply:
        batch_id = f"batch_standin_{next(self._ids)}"
        batch = {"id": batch_id, "object": "batch", "endpoint": body.get("endpoint"),
                 "input_file_id": body.get("input_file_id"), "completion_window": body.get("completion_window"),
                 "status": "validating", "created_at": int(time.time()), "output_file_id": None,
                 "error_file_id": None, "polls": 0,
                 "request_counts": {"total": 0, "completed": 0, "failed": 0}}
        self._batches[batch_id] = batch
        return Reply(200, self._public(batch))

    def _poll_batch(self, batch_id: str) -> Reply:
        with self._batch_lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return Reply(404, {"error": {"message": "no such batch"}})
            batch["polls"] += 1
            if batch["status"] != "completed" and batch["polls"] > self.batch_polls_until_done:
                self._run_batch(batch)
            elif batch["status"] == "validating":
                batch["status"] = "in_progress"
        return Reply(200, self._public(batch))

    def _run_batch(self, batch: dict) -> None:
        lines = self._files.get(batch["input_file_id"], b"").decode().splitlines()
        out = []
        for line in filter(None, lines):
            item = json.loads(line)
            completion, status = self.completion(item["body"])
            if status == -1:  # a scripted HTTP reply: record as a failed line
                out.append({"id": f"resp_{next(self._ids)}", "custom_id": item["custom_id"],
                            "response": {"status_code": completion.status, "body": completion.body}, "error": None})
                continue
            out.append({"id": f"resp_{next(self._ids)}", "custom_id": item["custom_id"],
                        "response": {"status_code": 200, "request_id": "req", "body": completion}, "error": None})
        file_id = f"file-standin-out-{next(self._ids)}"
        self._files[file_id] = "".join(json.dumps(o) + "\n" for o in out).encode()
        batch.update(status="completed", output_file_id=file_id, completed_at=int(time.time()),
                     request_counts={"total": len(out), "completed": len(out), "failed": 0})

    @staticmethod
    def _public(batch: dict) -> dict:
        return {k: v for k, v in batch.items() if k != "polls"}
