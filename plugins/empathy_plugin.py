"""The Empathy page in the Airflow UI: "Empathy" in the navigation, served at /empathy/ by the api-server.

- The pages are ``empathy.ui.app`` (overview, a user's timeline, an account, a run, the uplift, previews);
  they read the read model the pipeline writes at the end of every run (``empathy.ui.refresh``), never
  empathy.duckdb: DuckDB allows one process per file, and the api-server must not fight the pipeline for it.
- Every route requires an Airflow login (the JWT cookie the UI sets, or ``Authorization: Bearer``) with
  read access to the ``empathy_pipeline`` DAG, checked by Airflow's own ``requires_access_dag``: FastAPI
  plugin routes are not protected by Airflow on their own.
- Cheap to import and never breaks Airflow: every process that loads plugins imports this module, so the
  app (FastAPI, Jinja2, DuckDB, the auth machinery) is built on the first request, inside the api-server.
"""
from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/empathy"
PIPELINE_DAG_ID = "empathy_pipeline"  # who may read this DAG may read the page


def airflow_auth():
    """Airflow's own check: a valid Airflow JWT (cookie or bearer) whose user may read the pipeline DAG."""
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return requires_access_dag("GET", param_dag_id=PIPELINE_DAG_ID)


def login_url(next_url: str) -> str:
    """Airflow's own sign-in page, coming back to ``next_url``."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_url)


def create_app(settings=None, auth: bool = True):
    """The page's app with Airflow's login in front of every route (``auth=False`` for tests of the pages)."""
    from fastapi import Depends

    from empathy.ui.app import create_app as pages_app

    if not auth:
        return pages_app(settings)
    return pages_app(settings, dependencies=[Depends(airflow_auth())], login_url=login_url)


class _LazyApp:
    """ASGI app that builds the page's app on its first request, so importing this plugin costs nothing in
    the scheduler, workers and DAG processor, and a problem surfaces as a page error, not a failed start."""

    def __init__(self):
        self._app = None

    async def __call__(self, scope, receive, send):
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)


class EmpathyPlugin(AirflowPlugin):
    name = "empathy"
    fastapi_apps: ClassVar[list] = [{"app": _LazyApp(), "url_prefix": URL_PREFIX, "name": "Empathy"}]
    external_views: ClassVar[list] = [{
        "name": "Empathy",
        "href": f"{URL_PREFIX}/",
        "url_route": "empathy",   # shown inside the Airflow UI (an iframe), at /plugin/empathy
        "destination": "nav",     # no category: a top-level entry in the navigation
    }]
