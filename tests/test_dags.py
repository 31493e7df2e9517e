"""DAG integrity and project rules, as tests with fix-it messages.

Every playbook in include/playbooks/ becomes one DAG per phase plus the daily
metrics DAG; parsing touches no database or network; a broken playbook is one
import error and leaves the other sales loading.
"""
from __future__ import annotations

import socket
import textwrap
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
PLAYBOOKS = sorted((ROOT / "include" / "playbooks").glob("*.yaml"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def _expected_ids(path: Path) -> set[str]:
    from dacu.playbook import load_playbook

    pb = load_playbook(path)
    return {f"{pb.sale.id}__{p.id}" for p in pb.phases} | {f"{pb.sale.id}__metrics", f"{pb.sale.id}__retro_report"}


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, "DAG files fail to import:\n" + "\n".join(
        f"{k}: {v}" for k, v in dagbag.import_errors.items())


def test_shipped_playbooks_exist():
    names = {p.name for p in PLAYBOOKS}
    assert {"tmall_618_2027.yaml", "tmall_double11_2026.yaml"} <= names


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.stem)
def test_every_playbook_has_its_dag_file(path):
    from dacu.playbook import load_playbook

    sale_id = load_playbook(path).sale.id
    dag_file = DAGS / f"sale_{sale_id}.py"
    assert dag_file.exists(), (
        f"{path.name} has no DAG file: create {dag_file.relative_to(ROOT)} calling "
        f"build_dags(PLAYBOOK_DIR / '{path.name}', globals()) like the other dags/sale_*.py")


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.stem)
def test_expected_dag_ids(dagbag, path):
    expected = _expected_ids(path)
    sale_id = next(iter(expected)).split("__")[0]
    found = {d for d in dagbag.dag_ids if d.startswith(sale_id + "__")}
    assert found == expected, f"missing {sorted(expected - found)}, unexpected {sorted(found - expected)}"


def test_project_rules(dagbag):
    """Rules every dacu DAG follows (fix the factory, not the DAG, when one fails)."""
    from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync

    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and "|" in dag.doc_md, f"{dag_id}: doc_md must show the strategy table"
        assert "dacu" in dag.tags and any(t.startswith("sale:") for t in dag.tags), f"{dag_id}: tags"
        assert str(dag.timezone) in ("Asia/Shanghai", "Timezone('Asia/Shanghai')"), \
            f"{dag_id}: the DAG must run in the sale's timezone, got {dag.timezone}"
        assert dag.catchup is False, f"{dag_id}: catchup must be off (backfill replays on purpose)"
        for task in dag.tasks:
            assert type(task).__name__ != "TimeSensor", \
                f"{dag_id}.{task.task_id}: TimeSensor is not backfill-safe; use the GateSensor"
            if task.task_id.endswith(".gate"):
                assert isinstance(task, DateTimeSensorAsync), f"{dag_id}.{task.task_id}: gates must defer"
                assert "xcom_pull" in task.target_time, f"{dag_id}.{task.task_id}: gate target must be templated"
        if not dag_id.endswith(("__metrics", "__retro_report")):
            assert "dry_run" in dag.params, f"{dag_id}: manual runs need the dry_run param"


def test_parse_touches_no_database_or_network(monkeypatch):
    """Parsing reads the playbook files and nothing else."""
    from airflow.dag_processing.dagbag import DagBag

    import dacu.warehouse.connect as connect

    calls = []

    def forbid(*a, **k):
        calls.append(a)
        raise AssertionError("DAG parsing must not open connections")

    monkeypatch.setattr(connect, "make_engine", forbid)
    monkeypatch.setattr(socket.socket, "connect", forbid)
    monkeypatch.setattr(socket, "create_connection", forbid)
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {} and not calls
    assert len(bag.dag_ids) >= 14


def test_broken_playbook_is_one_import_error(tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    good = ROOT / "include" / "playbooks" / "tmall_double11_2026.yaml"
    broken = tmp_path / "broken_sale.yaml"
    # An unknown phase id in front of the real phases: the error must name phases[0].
    text = good.read_text(encoding="utf-8").replace("sale:\n  id: tmall_double11_2026", "sale:\n  id: broken_sale", 1)
    text = text.replace("phases:", "phases:\n  - id: nonsense_phase\n    name: x\n    windows: []", 1)
    broken.write_text(text, encoding="utf-8")
    dags = tmp_path / "dags"
    dags.mkdir()
    for name, pb in (("sale_good.py", good), ("sale_broken.py", broken)):
        (dags / name).write_text(textwrap.dedent(f"""
            # airflow DAG file for a test
            from dacu.dagfactory import build_dags
            build_dags({str(pb)!r}, globals())
        """), encoding="utf-8")
    bag = DagBag(dag_folder=str(dags))
    assert list(bag.import_errors) == [str(dags / "sale_broken.py")]
    err = next(iter(bag.import_errors.values()))
    assert "broken_sale.yaml:" in err and "phases[0]" in err, err
    assert any(d.startswith("tmall_double11_2026__") for d in bag.dag_ids)


def test_phase_dag_shape(dagbag):
    """Gates follow the plan; each crowd strategy hangs under each gate time it can fire at."""
    from dacu.planning import crowd_strategies, strategy_gates
    from dacu.playbook import load_playbook

    pb = load_playbook(ROOT / "include" / "playbooks" / "tmall_618_2027.yaml")
    dag = dagbag.dags["tmall_618_2027__peak"]
    ids = set(dag.task_ids)
    assert "plan_day" in ids
    assert dag.get_task("crowd_features").upstream_task_ids == {"plan_day"}
    for strategy in crowd_strategies(pb, "peak"):
        for g in strategy_gates(pb, strategy):
            if strategy.kind == "payment_reminder" and strategy.when.form == 3:
                # event-driven reminders: one micro-batch task walks the day's window
                assert f"{g}.gate" in dag.get_task(f"{g}.remind__{strategy.id}").upstream_task_ids
                continue
            assert f"{g}.gate" in dag.get_task(f"{g}.segment__{strategy.id}").upstream_task_ids
            # the day's crowd features (base layer, history parts) are built before any segment task
            assert "crowd_features" in dag.get_task(f"{g}.segment__{strategy.id}").upstream_task_ids
            assert f"{g}.segment__{strategy.id}" in dag.get_task(f"{g}.approve__{strategy.id}").upstream_task_ids
            assert f"{g}.approve__{strategy.id}" in dag.get_task(f"{g}.dispatch__{strategy.id}").upstream_task_ids
    first = pb.phase("peak").days()[0]
    assert dag.start_date == datetime.combine(first, time(0), tzinfo=pb.tz)


def test_generator_wipes_every_table_derived_from_the_shop():
    """A regenerated shop must not leave snapshots or ledger rows of customers that no longer exist."""
    from dacu.paths import SQL_DIR
    from dacu.warehouse.schema import metadata

    kept = {"peer_benchmarks"}          # imported platform data, not derived from the shop
    wipe = (SQL_DIR / "synth" / "wipe.sql").read_text(encoding="utf-8")
    truncate = (SQL_DIR / "synth" / "wipe_postgres.sql").read_text(encoding="utf-8")
    for table in metadata.sorted_tables:
        if table.name in kept:
            continue
        assert f"DELETE FROM {table.name};" in wipe, f"add 'DELETE FROM {table.name};' to include/sql/synth/wipe.sql"
        assert table.name in truncate, f"add {table.name} to include/sql/synth/wipe_postgres.sql"
