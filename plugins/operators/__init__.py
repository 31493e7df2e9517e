"""dacu's Airflow operators: thin adapters over the ``dacu`` domain package.

Each operator reads the run's context (its time, params, the day's plan) and
calls one domain function; the logic lives in ``dacu`` where the CLI and the
tests use it without Airflow. Heavy imports (SQLAlchemy, pandas, GX) happen in
``execute``, never at import, so DAG files parse in milliseconds.
"""
