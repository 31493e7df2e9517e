#!/bin/bash
# First start of the postgres container (empty volume): create the dacu warehouse database.
# The names and password come from the container's environment (docker-compose.yaml, .env).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v wh_db="${DACU_WAREHOUSE_DB:-dacu}" \
  -v wh_user="${DACU_WAREHOUSE_USER:-dacu}" \
  -v wh_password="${DACU_WAREHOUSE_PASSWORD:?DACU_WAREHOUSE_PASSWORD is not set}" \
  -f /dacu-initdb/warehouse.sql
