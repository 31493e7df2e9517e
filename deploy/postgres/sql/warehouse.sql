-- The dacu warehouse database and its owner, next to Airflow's metadata database.
-- Run once by psql with variables (never string-built):
--   psql -v ON_ERROR_STOP=1 -v wh_db=dacu -v wh_user=dacu -v wh_password=... -f warehouse.sql
-- docker-compose.yaml runs it through deploy/postgres/initdb/10-dacu-warehouse.sh on the first
-- start of an empty PostgreSQL volume; tests/test_celery_integration.py runs it on loopback.
-- The tables are created by dacu itself (dacu.warehouse.init_schema, on first use).

CREATE ROLE :"wh_user" LOGIN PASSWORD :'wh_password';
CREATE DATABASE :"wh_db" OWNER :"wh_user" ENCODING 'UTF8' TEMPLATE template0;
-- Only the owner (and superusers) may connect: Airflow's role has no business in the warehouse.
REVOKE ALL ON DATABASE :"wh_db" FROM PUBLIC;

\connect :"wh_db"
-- PostgreSQL 15+ no longer lets PUBLIC create in schema public; the owner gets it explicitly.
ALTER SCHEMA public OWNER TO :"wh_user";
