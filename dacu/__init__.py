"""dacu (大促): campaign automation for e-commerce mega-sales on Apache Airflow 3.3.

The domain package: playbooks, warehouse, importers, synthetic shop. It never
imports Airflow at module level, so the CLI and the tests run without it.
"""
__version__ = "0.1.0"
