# The dacu image: Airflow 3.3.2 (Python 3.11, as pyproject.toml requires) + requirements.txt + the dacu package.
# Build: docker compose build   (or: docker build -t dacu-airflow:3.3.2 .)
# AIRFLOW_VERSION must equal requirements.txt's apache-airflow pin (tests/test_compose.py checks it).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
# A build folder the airflow user owns (pip builds the package in place; the user removes it after).
USER root
RUN mkdir -p /tmp/dacu && chown airflow:0 /tmp/dacu
USER airflow
WORKDIR /opt/airflow

# Pinned runtime dependencies first (their layer is cached while only the code changes).
# apache-airflow is named again so pip can never move it away from the image's version.
COPY --chown=airflow:0 requirements.txt /tmp/dacu/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/dacu/requirements.txt

# The domain package, installed (not mounted): a code change is a new image, a playbook change is not.
COPY --chown=airflow:0 pyproject.toml /tmp/dacu/pyproject.toml
COPY --chown=airflow:0 dacu /tmp/dacu/dacu
RUN pip install --no-cache-dir --no-deps /tmp/dacu && rm -rf /tmp/dacu

# Defaults baked in so the image runs on its own; docker-compose.yaml mounts the live copies over them.
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include
COPY --chown=airflow:0 expectations /opt/airflow/expectations

# dacu.paths: the installed package has no repository beside it, so point it at the folders above.
ENV DACU_INCLUDE_DIR=/opt/airflow/include \
    DACU_EXPECTATIONS_DIR=/opt/airflow/expectations \
    DACU_HOME=/opt/airflow/dacu-home
