"""What the war room needs from Airflow, as a small interface the page is given.

The domain package never imports Airflow: the plugin implements ``AirflowView``
over Airflow's metadata DB inside the api-server (see plugins/dacu_warroom.py),
tests pass a fake, and without Airflow the page shows "unknown" instead.
"""
from __future__ import annotations

from typing import Any, Protocol


class AirflowView(Protocol):
    def latest_runs(self, dag_ids: list[str]) -> dict[str, dict[str, Any]]:
        """dag_id -> {run_id, state, run_type, run_after, logical_date, url} of its latest run (by run_after)."""

    def waiting_actions(self, dag_ids: list[str]) -> list[dict[str, Any]]:
        """Human-in-the-loop tasks awaiting input: {dag_id, run_id, task_id, subject, created_at, url}."""


class NoAirflow:
    """Used when the page runs without Airflow's metadata (e.g. a CLI preview): nothing known."""

    available = False

    def latest_runs(self, dag_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {}

    def waiting_actions(self, dag_ids: list[str]) -> list[dict[str, Any]]:
        return []
