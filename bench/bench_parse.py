"""How long Airflow takes to parse dacu's DAG files (the dag-processor does this every few minutes).

Prints, per DAG file: the first parse in a fresh process (after ``import airflow``,
which every parse pays anyway) and the median of later parses, plus the playbook
load alone. Run: ``.venv/bin/python bench/bench_parse.py``.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys, time, statistics, json
t0 = time.perf_counter(); import airflow; t_import = time.perf_counter() - t0
from airflow.dag_processing.dagbag import DagBag
path = sys.argv[1]
t0 = time.perf_counter(); bag = DagBag(dag_folder=path); first = time.perf_counter() - t0
assert not bag.import_errors, bag.import_errors
warm = []
for _ in range(5):
    t0 = time.perf_counter(); DagBag(dag_folder=path); warm.append(time.perf_counter() - t0)
from dacu.playbook import load_playbook
from dacu.paths import PLAYBOOK_DIR
print(json.dumps({"import_airflow": t_import, "first": first, "warm": statistics.median(warm),
                  "dags": len(bag.dag_ids), "tasks": sum(len(d.tasks) for d in bag.dags.values())}))
"""


def main() -> int:
    import json

    env = dict(os.environ, AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
               AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW_HOME=os.environ.get("AIRFLOW_HOME", "/tmp/dacu-bench-parse"))
    print(f"{'DAG file':<36}{'DAGs':>5}{'tasks':>7}{'import airflow s':>18}{'first parse s':>15}{'warm parse s':>14}")
    for path in sorted((ROOT / "dags").glob("sale_*.py")):
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{path.name:<36}{r['dags']:>5}{r['tasks']:>7}{r['import_airflow']:>18.2f}{r['first']:>15.3f}"
              f"{r['warm']:>14.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
