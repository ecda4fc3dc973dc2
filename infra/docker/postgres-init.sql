-- Sluice's own role and database on the compose PostgreSQL server (temporal-compose.yml).
-- Runs once, when the data volume is first initialised, as the POSTGRES_USER superuser.
-- Temporal's `temporal` and `temporal_visibility` databases are created by the temporal-schema job.
-- The password comes from the container's SLUICE_DB_PASSWORD (psql 15+ \getenv); DATABASE_URL in
-- temporal-compose.yml uses the same variable. Sluice's tables are created by the CPU worker's
-- migrations at start, as the `sluice` role (owner of the database).

\getenv sluice_password SLUICE_DB_PASSWORD
\if :{?sluice_password}
\else
  \echo 'SLUICE_DB_PASSWORD is not set: using the development default'
  \set sluice_password sluice
\endif

CREATE ROLE sluice LOGIN PASSWORD :'sluice_password';
CREATE DATABASE sluice OWNER sluice;
