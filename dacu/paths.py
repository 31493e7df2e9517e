"""Where the project's files live.

The repository ships ``include/`` (SQL, playbooks, import formats) and
``expectations/`` beside this package; ``DACU_INCLUDE_DIR`` overrides the
location when the package is deployed on its own (e.g. in a container).
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
INCLUDE_DIR = Path(os.environ.get("DACU_INCLUDE_DIR", REPO_ROOT / "include"))
SQL_DIR = INCLUDE_DIR / "sql"
PLAYBOOK_DIR = INCLUDE_DIR / "playbooks"
FORMATS_DIR = INCLUDE_DIR / "formats"
EXPECTATIONS_DIR = Path(os.environ.get("DACU_EXPECTATIONS_DIR", REPO_ROOT / "expectations"))


def dacu_home() -> Path:
    """Folder for the embedded warehouse and run artefacts (default ``<repo>/.dacu``)."""
    return Path(os.environ.get("DACU_HOME", REPO_ROOT / ".dacu"))
