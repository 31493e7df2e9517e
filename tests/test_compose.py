"""docker-compose.yaml, Dockerfile and .env.example: the Compose specification and the project's rules.

No Docker engine runs here, so the file is checked statically: against the Compose
specification's JSON schema (vendored by check-jsonschema), then against what the code
reads: the services of the topology, the connection variables the operators look up, the
folders Airflow and dacu.paths read, the Execution API URL, the image's Airflow version,
the init SQL, and that secrets only come from .env. tests/test_celery_integration.py runs
the same topology as processes.
"""
from __future__ import annotations

import ast
import copy
import importlib.resources
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

# service -> the Airflow command it runs (docker-compose.yaml's topology, as in Airflow's official file)
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
    "flower": "celery flower",
}
LONG_RUNNING = [*AIRFLOW_SERVICES, "postgres", "redis", "dacu-gateway", "smtp-sink"]
_VAR = re.compile(r"(?<!\$)\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    with COMPOSE.open() as f:
        return yaml.safe_load(f)       # resolves the x-airflow-common anchors and merge keys


def _interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} with an empty environment, secrets as SECRET_<NAME>."""
    env = env or {}

    def sub(m: re.Match) -> str:
        name, op, arg = m["name"], m["op"] or "", m["arg"] or ""
        if name in env:
            return env[name]
        if op.endswith("?"):
            return f"SECRET_{name}"
        return arg if op.endswith("-") else ""

    return _VAR.sub(sub, value).replace("$$", "$")


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: _interpolate(str(v)) for k, v in env.items()}


def _command(service: dict) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else str(cmd)


def _mounts(service: dict) -> dict[str, str]:
    """container path -> host path of the bind mounts (short syntax)."""
    out = {}
    for v in service.get("volumes", []):
        src, dst = _interpolate(v).split(":")[:2]
        out[dst] = src
    return out


# --- the Compose specification ---------------------------------------------------------------

def _compose_schema() -> dict:
    # check-jsonschema vendors the official compose-spec.json (compose-spec/compose-spec, schema/).
    path = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(path.read_text())


def _schema_errors(doc: dict) -> list[str]:
    from jsonschema import validators

    schema = _compose_schema()
    validator = validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_follows_the_compose_specification(compose):
    assert _compose_schema()["title"] == "Compose Specification"
    assert _schema_errors(compose) == []


def test_the_schema_check_rejects_what_docker_compose_would_reject(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-worker"]["restart_policy"] = "always"      # no such service key
    broken["services"]["airflow-scheduler"]["depends_on"]["postgres"]["condition"] = "service_ready"  # no such one
    errors = _schema_errors(broken)
    assert any("restart_policy" in e for e in errors), errors
    assert any("service_ready" in e for e in errors), errors


# --- the topology ------------------------------------------------------------------------------

def test_every_process_of_the_topology_is_a_service(compose):
    services = compose["services"]
    for name, command in AIRFLOW_SERVICES.items():
        assert name in services, f"missing service {name}"
        assert _command(services[name]) == command, f"{name} runs {_command(services[name])!r}"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    init = services["airflow-init"]
    assert _env(init)["_AIRFLOW_DB_MIGRATE"] == "true" and "/entrypoint airflow version" in _command(init)
    assert "simple_auth_manager_passwords.json" in _command(init)       # the admin, from .env
    assert services["flower"]["profiles"] == ["flower"]
    # The reference channel providers, bound to all interfaces of their container.
    assert services["dacu-gateway"]["entrypoint"] == ["python", "-m", "dacu.dispatch.gateway"]
    assert "0.0.0.0" in _command(services["dacu-gateway"])
    assert services["smtp-sink"]["entrypoint"] == ["python", "-m", "aiosmtpd"]
    # On by default through .env (COMPOSE_PROFILES), off in production without editing this file.
    for name in ("dacu-gateway", "smtp-sink"):
        assert services[name]["profiles"] == ["reference-channels"], name
    profiles = re.search(r"^COMPOSE_PROFILES=(.*)$", ENV_EXAMPLE.read_text(), re.M)
    assert profiles and "reference-channels" in profiles[1].split(",")


def test_long_running_services_have_healthchecks_and_dependencies_exist(compose):
    services = compose["services"]
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck") or {}
        assert check.get("test"), f"{name} has no healthcheck"
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        for dep, cond in (deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)):
            assert dep in services, f"{name} depends on unknown service {dep}"
            if cond.get("condition") == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy; it has no check"
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                 "airflow-worker"):
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy", name
    # Tasks need the Execution API: workers start only once the api-server answers.
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_workers_scale_with_docker_compose_scale(compose):
    worker = compose["services"]["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker
    assert _env(worker)["DUMB_INIT_SETSID"] == "0"          # warm shutdown of the Celery worker


# --- what the code reads -----------------------------------------------------------------------

def _airflow_envs(compose) -> dict[str, dict[str, str]]:
    return {name: _env(compose["services"][name]) for name in [*AIRFLOW_SERVICES, "airflow-init"]}


def test_celery_executor_on_postgres_and_redis(compose):
    for name, env in _airflow_envs(compose).items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        meta = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert meta.scheme.startswith("postgresql") and meta.hostname == "postgres", name
        backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
        assert backend.scheme.startswith("db+postgresql") and backend.hostname == "postgres", name
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert broker.scheme == "redis" and broker.hostname == "redis" and broker.port == 6379, name


def test_execution_api_url_points_at_the_api_server(compose):
    api = compose["services"]["airflow-apiserver"]
    container_port = int(_interpolate(api["ports"][0]).rsplit(":", 1)[1])
    assert f"localhost:{container_port}/" in " ".join(api["healthcheck"]["test"])
    for name, env in _airflow_envs(compose).items():
        url = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (url.hostname, url.port, url.path) == ("airflow-apiserver", container_port, "/execution/"), name
        # One secret for every process: the api-server signs the task tokens the workers present.
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "SECRET_AIRFLOW_JWT_SECRET", name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == "SECRET_AIRFLOW_FERNET_KEY", name


def _operator_defaults(path: Path, cls: str) -> dict[str, object]:
    """Keyword defaults of ``cls.__init__`` in ``path``, read from the source (no Airflow import: fast)."""
    tree = ast.parse(path.read_text())
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls)
    init = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    args = init.args
    return {a.arg: ast.literal_eval(d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}


def _connection_env_names() -> set[str]:
    """AIRFLOW_CONN_* names of the connection ids the operators and dacu.warehouse look up."""
    from dacu.warehouse.connect import DEFAULT_CONN_ID

    # the sending operators share their constructor (_SendingOperator)
    dispatch = _operator_defaults(ROOT / "plugins" / "operators" / "dispatch.py", "_SendingOperator")
    ids = {DEFAULT_CONN_ID, dispatch["gateway_conn_id"], dispatch["smtp_conn_id"]}
    return {f"AIRFLOW_CONN_{i.upper()}" for i in ids}


def test_connections_are_the_ones_the_code_reads_and_reach_the_services(compose):
    names = _connection_env_names()
    assert names == {"AIRFLOW_CONN_DACU_WAREHOUSE", "AIRFLOW_CONN_DACU_SMS_GATEWAY", "AIRFLOW_CONN_DACU_SMTP"}
    services = compose["services"]
    for name, env in _airflow_envs(compose).items():
        assert names <= set(env), f"{name} lacks {names - set(env)}"
    env = _env(services["airflow-worker"])
    # The warehouse: the database the postgres container's init script creates, as its owner.
    from dacu.warehouse.connect import url_from_airflow_conn_value

    wh = urlsplit(url_from_airflow_conn_value(env["AIRFLOW_CONN_DACU_WAREHOUSE"]))
    pg_env = _env(services["postgres"])
    assert wh.hostname == "postgres" and wh.path == "/" + pg_env["DACU_WAREHOUSE_DB"]
    assert wh.username == pg_env["DACU_WAREHOUSE_USER"] and wh.password == "SECRET_DACU_WAREHOUSE_PASSWORD"
    # The channels: host and port of the reference gateway and SMTP sink services.
    gw = urlsplit(env["AIRFLOW_CONN_DACU_SMS_GATEWAY"])
    gw_cmd = services["dacu-gateway"]["command"]
    assert gw.hostname == "dacu-gateway" and gw.port == int(gw_cmd[gw_cmd.index("--port") + 1])
    assert gw.port in services["dacu-gateway"]["expose"]
    smtp = urlsplit(env["AIRFLOW_CONN_DACU_SMTP"])
    listen = services["smtp-sink"]["command"][services["smtp-sink"]["command"].index("-l") + 1]
    assert (smtp.scheme, smtp.hostname, smtp.port) == ("smtp", "smtp-sink", int(listen.rsplit(":", 1)[1]))
    assert parse_qs(smtp.query)["sender"] == ["crm@example.com"]


def _dacu_paths(env: dict[str, str]) -> dict[str, str]:
    """What dacu.paths resolves under an environment (a fresh interpreter: the module reads env at import)."""
    code = ("import json, dacu.paths as p; print(json.dumps({'include': str(p.INCLUDE_DIR), "
            "'expectations': str(p.EXPECTATIONS_DIR), 'home': str(p.dacu_home())}))")
    res = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_project_folders_are_mounted_where_airflow_and_dacu_read_them(compose):
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        svc = compose["services"][name]
        env, mounts = _env(svc), _mounts(svc)
        paths = {
            env["AIRFLOW__CORE__DAGS_FOLDER"]: "dags",
            env["AIRFLOW__CORE__PLUGINS_FOLDER"]: "plugins",
            env["DACU_INCLUDE_DIR"]: "include",
            env["DACU_EXPECTATIONS_DIR"]: "expectations",
        }
        for target, folder in paths.items():
            assert target in mounts, f"{name}: {target} is not mounted"
            assert Path(mounts[target]) == Path(".") / folder, f"{name}: {target} <- {mounts[target]}"
            assert (ROOT / folder).is_dir()
    env = _env(compose["services"]["airflow-worker"])
    assert _mounts(compose["services"]["airflow-worker"])[env["DACU_HOME"]] == "./dacu-home"   # rejects, reports
    resolved = _dacu_paths({k: env[k] for k in ("DACU_INCLUDE_DIR", "DACU_EXPECTATIONS_DIR", "DACU_HOME")})
    assert resolved == {"include": env["DACU_INCLUDE_DIR"], "expectations": env["DACU_EXPECTATIONS_DIR"],
                        "home": env["DACU_HOME"]}


def test_warehouse_init_sql_is_mounted_and_run_by_the_postgres_container(compose):
    pg = compose["services"]["postgres"]
    mounts = _mounts(pg)
    initdb = ROOT / mounts["/docker-entrypoint-initdb.d"]
    sqldir = ROOT / mounts["/dacu-initdb"]
    scripts = sorted(initdb.glob("*.sh"))
    assert scripts and all(os.access(s, os.X_OK) for s in scripts), "init scripts must be executable"
    script = scripts[0].read_text()
    sql_name = re.search(r"-f /dacu-initdb/(\S+)", script)[1]
    sql = (sqldir / sql_name).read_text()
    assert 'CREATE DATABASE :"wh_db" OWNER :"wh_user"' in sql and "PASSWORD :'wh_password'" in sql
    for var in ("DACU_WAREHOUSE_DB", "DACU_WAREHOUSE_USER", "DACU_WAREHOUSE_PASSWORD"):
        assert var in script and var in _env(pg), var


# --- image and secrets -------------------------------------------------------------------------

def _requirement(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip().lower().startswith(f"{name}=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError(f"{name} is not pinned in requirements.txt")


def test_image_matches_the_pinned_airflow_and_python(compose):
    airflow = _requirement("apache-airflow")
    docker = DOCKERFILE.read_text()
    assert re.search(rf"^ARG AIRFLOW_VERSION={re.escape(airflow)}$", docker, re.M), "Dockerfile's Airflow version"
    python = re.search(r'requires-python = ">=(\d+\.\d+)', (ROOT / "pyproject.toml").read_text())[1]
    assert re.search(rf"^ARG PYTHON_VERSION={re.escape(python)}$", docker, re.M), "Dockerfile's Python version"
    assert "FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}" in docker
    assert "-r /tmp/dacu/requirements.txt" in docker and "COPY --chown=airflow:0 requirements.txt" in docker
    assert "pip install --no-cache-dir --no-deps /tmp/dacu" in docker          # the dacu package itself
    for key in ("DACU_INCLUDE_DIR=/opt/airflow/include", "DACU_EXPECTATIONS_DIR=/opt/airflow/expectations"):
        assert key in docker
    common = compose["x-airflow-common"]
    assert common["build"]["args"]["AIRFLOW_VERSION"] == airflow
    assert _interpolate(common["image"]).endswith(f":{airflow}")
    for name in ("dacu-gateway", "smtp-sink"):
        assert compose["services"][name]["image"] == common["image"] and compose["services"][name]["build"]


SECRET_KEYS = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$")


def test_secrets_come_only_from_env_and_env_example_documents_every_variable(compose):
    text = COMPOSE.read_text()
    used = {m["name"] for m in _VAR.finditer(text)}
    required = {m["name"] for m in _VAR.finditer(text) if (m["op"] or "").endswith("?")}
    example = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", line)
        if m:
            example[m[1]] = m[2]
    assert used <= set(example), f"not documented in .env.example: {sorted(used - set(example))}"
    for name in required:
        assert example[name] == "", f".env.example must not carry a value for the secret {name}"
    assert {n for n in used if SECRET_KEYS.search(n)} <= required, "every secret must be required, not defaulted"
    # No literal secret in the file: every secret-looking setting is a reference to .env.
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        for key, value in env.items():
            if SECRET_KEYS.search(key) and key != "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
                assert str(value).startswith("${") and ":?" in str(value), f"{name}.{key} is not from .env"
