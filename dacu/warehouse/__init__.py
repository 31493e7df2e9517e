"""The warehouse: schema, connection, SQL files."""
from dacu.warehouse.connect import get_engine, init_schema, make_engine, resolve_url

__all__ = ["get_engine", "init_schema", "make_engine", "resolve_url"]
