#!/bin/bash
# Runs once, when the postgres container initialises an empty data directory
# (/docker-entrypoint-initdb.d). The application never connects as the superuser: it gets its
# own role, neither SUPERUSER nor BYPASSRLS, with CREATEDB (django-tenants creates and clones
# schemas; tests create their database) and ownership of the application database.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_role="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" -v app_database="$APP_DB_NAME" <<'EOSQL'
CREATE ROLE :"app_role" LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS NOCREATEROLE
  PASSWORD :'app_password';
CREATE DATABASE :"app_database" OWNER :"app_role";
REVOKE ALL ON DATABASE :"app_database" FROM PUBLIC;
EOSQL
