#!/bin/bash
# Runs once, when the postgres container initialises an empty data directory
# (/docker-entrypoint-initdb.d). The application never connects as the superuser. Two roles,
# neither SUPERUSER nor BYPASSRLS (README, "DATABASE_URL"; docs/security-model.md, "Roles"):
# - the OWNER role (APP_OWNER_USER, carried by DATABASE_OWNER_URL) owns the database and,
#   through migrate_schemas, every schema, table, function and trigger; CREATEDB lets it
#   create test databases, CREATEROLE one NOLOGIN role per workspace (the role a runtime
#   connection switches to in that workspace's context). Only the migrate job and the owner's worker get its password.
# - the RUNTIME role (APP_DB_USER, carried by DATABASE_URL) owns nothing and may not create
#   anything; migrate_schemas grants it exactly what the web and ordinary workers need.
#   NOINHERIT: it may switch into a workspace's role, never use one's privileges without.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_role="$APP_OWNER_USER" -v owner_password="$APP_OWNER_PASSWORD" \
  -v app_role="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" \
  -v app_database="$APP_DB_NAME" <<'EOSQL'
CREATE ROLE :"owner_role" LOGIN CREATEDB CREATEROLE NOSUPERUSER NOBYPASSRLS
  PASSWORD :'owner_password';
CREATE ROLE :"app_role" LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
  PASSWORD :'app_password';
CREATE DATABASE :"app_database" OWNER :"owner_role";
REVOKE ALL ON DATABASE :"app_database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"app_database" TO :"app_role";
\connect :"app_database"
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
EOSQL
