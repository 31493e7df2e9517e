"""Airflow DAGs of the sale in include/playbooks/tmall_double11_2026.yaml (one per phase + daily metrics).

Built by dacu.dagfactory from the playbook; a broken playbook shows up as this
file's import error and leaves the other sales' DAGs untouched.
"""
from dacu.dagfactory import build_dags
from dacu.paths import PLAYBOOK_DIR

build_dags(PLAYBOOK_DIR / "tmall_double11_2026.yaml", globals())
