"""A tiny threaded HTTP server for stand-ins of third-party APIs (OpenAI, Slack, SendGrid).

Each stand-in subclasses ``Standin`` and implements ``handle(request) -> Reply``. Tests script
faults ahead of time: ``server.fail_next(429, retry_after=1)``, ``server.fail_next(500)``,
``server.garbage_next()`` (200 with a non-JSON body), ``server.hang_next(seconds)`` (for
timeouts). Every request that arrives is recorded in ``server.requests`` (faulted ones too, with
``faulted=True``), so tests can assert exactly what was sent.
"""
from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes
    faulted: bool = False

    @property
    def json(self):
        return json.loads(self.body or b"null")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        return body, headers


@dataclass
class _Fault:
    reply: Reply | None = None
    hang_s: float = 0.0
    path_contains: str | None = None


class Standin:
    """Start with ``with SomeStandin() as server:``; ``server.base_url`` ends without a slash."""

    def __init__(self):
        self.requests: list[Request] = []
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- scripting --------------------------------------------------------------------------
    def fail_next(self, status: int, retry_after: float | None = None, times: int = 1,
                  body: bytes | str | dict = b"", path_contains: str | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if isinstance(body, dict):
            headers["Content-Type"] = "application/json"
        for _ in range(times):
            self._faults.append(_Fault(Reply(status, body, headers), path_contains=path_contains))

    def garbage_next(self, times: int = 1, path_contains: str | None = None) -> None:
        for _ in range(times):
            self._faults.append(_Fault(Reply(200, b"<html>502 upstream garbage \x00\xff", {
                "Content-Type": "application/json"}), path_contains=path_contains))

    def hang_next(self, seconds: float, times: int = 1, path_contains: str | None = None) -> None:
        for _ in range(times):
            self._faults.append(_Fault(hang_s=seconds, path_contains=path_contains))

    # --- to implement ---------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- plumbing ---------------------------------------------------------------------------
    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.path_contains is None or fault.path_contains in path:
                    del self._faults[i]
                    return fault
        return None

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Request(handler.command, handler.path, dict(handler.headers.items()), body)
        fault = self._take_fault(handler.path)
        with self._lock:
            self.requests.append(request)
        if fault is not None:
            request.faulted = True
            if fault.hang_s:
                threading.Event().wait(fault.hang_s)
                reply = Reply(504, b"")
            else:
                reply = fault.reply
        else:
            try:
                reply = self.handle(request)
            except Exception as exc:  # a bug in a stand-in shows as a 500 with the error
                reply = Reply(500, {"error": f"standin crashed: {exc!r}"})
        payload, headers = reply.encoded()
        try:
            handler.send_response(reply.status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
            pass

    def __enter__(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                standin._dispatch(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def log_message(self, *args):  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # shutdown() waits for the serving loop to look up: with the default 0.5 s poll every test that
        # used a stand-in waited ~0.5 s on exit (~40 s of the suite)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def served(self, path_contains: str = "") -> list[Request]:
        """Requests answered normally (not faulted) whose path contains ``path_contains``."""
        return [r for r in self.requests if not r.faulted and path_contains in r.path]
