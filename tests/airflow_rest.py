"""The Airflow REST API the UI calls (``/api/v2``, a JWT from ``/auth/token``), for the test harness.

A mixin of ``harness.Airflow``: it needs ``self.url``, ``self.password``, ``self._token`` and
``self.wait`` (which fails at once when a component has exited).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request


class RestApi:
    def _request(self, method: str, path: str, body=None, auth: bool = True):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else {}

    def _get(self, path: str, auth: bool = True):
        """GET, or None while the server is not answering (or answers 404)."""
        try:
            return self._request("GET", path, auth=auth)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return None

    def token(self) -> str:
        if self._token is None:
            req = urllib.request.Request(
                f"{self.url}/auth/token", method="POST", headers={"Content-Type": "application/json"},
                data=json.dumps({"username": "admin", "password": self.password}).encode())
            with urllib.request.urlopen(req, timeout=120) as resp:
                self._token = json.loads(resp.read())["access_token"]
        return self._token

    def api(self, method: str, path: str, body=None):
        try:
            return self._request(method, path, body)
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path} -> {exc.code}: {exc.read()[:2000]!r}") from exc

    def health(self) -> dict:
        """Component -> status, from /api/v2/monitor/health (what the UI's health badge shows)."""
        return {k: (v or {}).get("status") for k, v in self._request("GET", "/api/v2/monitor/health", auth=False).items()}

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> dict:
        def parsed():
            errors = self._get("/api/v2/importErrors") or {}
            if errors.get("import_errors"):
                raise RuntimeError(f"DAG import errors: {json.dumps(errors['import_errors'])[:4000]}")
            return self._get(f"/api/v2/dags/{dag_id}")
        return self.wait(parsed, timeout, f"DAG {dag_id} to be parsed")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def trigger(self, dag_id: str, run_id: str, conf: dict | None = None, logical_date: str | None = None) -> str:
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf or {}}
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def _pages(self, path: str, key: str, page: int = 100) -> list[dict]:
        items: list[dict] = []
        sep = "&" if "?" in path else "?"
        while True:
            batch = self.api("GET", f"{path}{sep}limit={page}&offset={len(items)}")
            items.extend(batch[key])
            if len(batch[key]) < page or len(items) >= batch.get("total_entries", 0):
                return items

    def runs(self, dag_id: str) -> list[dict]:
        return self._pages(f"/api/v2/dags/{dag_id}/dagRuns?order_by=logical_date", "dag_runs")

    def task_instances(self, dag_id: str, run_id: str = "~") -> list[dict]:
        """Task instances of one run, or of every run (``~``)."""
        quoted = urllib.parse.quote(run_id, safe="~")
        return self._pages(f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances", "task_instances")

    def default_conf(self, dag_id: str) -> dict:
        """The DAG's Params at their defaults: what the UI's Backfill dialog sends as dag_run_conf."""
        params = self.api("GET", f"/api/v2/dags/{dag_id}/details").get("params") or {}
        return {name: (p.get("value") if isinstance(p, dict) else p) for name, p in params.items()}

    def create_backfill(self, dag_id: str, from_date: str, to_date: str, **options) -> dict:
        """POST /api/v2/backfills with the dialog's defaults (max_active_runs 1, reprocess none)."""
        body = {"dag_id": dag_id, "from_date": from_date, "to_date": to_date, "max_active_runs": 1,
                "reprocess_behavior": "none", "run_backwards": False,
                "dag_run_conf": self.default_conf(dag_id), **options}
        return self.api("POST", "/api/v2/backfills", body)

    def backfill(self, backfill_id: int) -> dict:
        return self.api("GET", f"/api/v2/backfills/{backfill_id}")
