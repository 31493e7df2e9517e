"""The war room (issue 7): one page per sale inside the Airflow UI, fed by snapshot and summary tables.

``warroom_data`` builds the page's JSON for a sale at a given moment; the Airflow
plugin ``plugins/dacu_warroom.py`` serves it behind Airflow's login. Dispatch
totals are kept per send occasion by ``refresh_dispatch_totals`` so the page never
groups the per-message ledger.
"""
from dacu.warroom.airflow_view import AirflowView, NoAirflow
from dacu.warroom.calendar import parse_now, sale_calendar
from dacu.warroom.page import WarroomInputError, find_playbook, list_sales, sale_dag_ids, warroom_data
from dacu.warroom.tables import dispatch_totals, init_warroom_schema
from dacu.warroom.totals import rebuild_dispatch_totals, refresh_dispatch_totals

__all__ = [
    "AirflowView", "NoAirflow", "WarroomInputError", "dispatch_totals", "find_playbook", "init_warroom_schema",
    "list_sales", "parse_now", "rebuild_dispatch_totals", "refresh_dispatch_totals", "sale_calendar",
    "sale_dag_ids", "warroom_data",
]
