// Numbered, immutable migrations. Each file runs once, in one transaction that records
// itself first, so two installers racing on one database collide on the primary key
// instead of both applying it. Never edit a released migration: add the next one.
import { readFileSync } from 'node:fs';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILES = ['0001-connection-guard.sql', '0002-ddl-audit.sql', '0003-guard-hardening.sql', '0004-ddl-hardening.sql', '0005-responses.sql'] as const;

function load(file: string): Migration {
  const match = /^(\d{4})-(.+)\.sql$/.exec(file);
  if (!match) throw new Error(`migration file name ${file} must look like 0001-name.sql`);
  return {
    version: Number(match[1]),
    name: match[2]!,
    sql: readFileSync(new URL(`./sql/${file}`, import.meta.url), 'utf8'),
  };
}

export const MIGRATIONS: readonly Migration[] = FILES.map(load);

/**
 * Applied by every install after the migrations (CREATE OR REPLACE): the DDL audit's
 * event-trigger functions, so that install puts back a replaced one.
 */
export const DDL_FUNCTIONS_SQL = readFileSync(new URL('./sql/ddl-functions.sql', import.meta.url), 'utf8');
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Creates the schema and the bookkeeping table; safe to run again. */
export const BOOTSTRAP_SQL = `
-- Grants only when the schema is new: on an upgrade the event triggers of the installed release
-- are still the old ones, which would record them as someone's change (install restores the
-- schema's grants later, as pgwarden's own).
DO $bootstrap$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgwarden') THEN
    CREATE SCHEMA pgwarden;
    REVOKE ALL ON SCHEMA pgwarden FROM PUBLIC;
    -- session_exec calls pgwarden.guard_check() as the connecting role, which needs USAGE;
    -- every object inside keeps its own, narrower grants.
    GRANT USAGE ON SCHEMA pgwarden TO PUBLIC;
  END IF;
END $bootstrap$;
CREATE TABLE IF NOT EXISTS pgwarden.migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  applied_by name NOT NULL DEFAULT current_user,
  pgwarden_version text NOT NULL
);
`;
