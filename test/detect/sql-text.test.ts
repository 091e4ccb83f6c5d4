// Reading what a statement does from its text, and the ways a client could try to fool it:
// comments, literals, quoted identifiers, sub-queries, CTEs, several statements in one string,
// function bodies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calledFunctions, changedSettings, disablesEventTrigger, grantedPrivileges, isCopyProgram, isUnboundedChange, usedLanguages } from '../../src/detect/sql-text.ts';

describe('statement text', () => {
  it('finds UPDATE and DELETE without a WHERE of their own, and every TRUNCATE', () => {
    const cases: [string, string, boolean][] = [
      ['DELETE', 'DELETE FROM t', true],
      ['DELETE', 'delete from t where id = 1', false],
      ['DELETE', 'DELETE FROM t -- WHERE id = 1', true],
      ['DELETE', "DELETE FROM t /* WHERE */ RETURNING 'where'", true],
      ['DELETE', 'DELETE FROM "where" USING (SELECT 1 WHERE true) s', true],
      ['UPDATE', 'UPDATE t SET a = (SELECT max(b) FROM u WHERE u.id = 1)', true],
      ['UPDATE', 'UPDATE t SET a = 1 WHERE CURRENT OF c', false],
      ['UPDATE', 'WITH x AS (SELECT id FROM u WHERE flag) UPDATE t SET a = 1 FROM x', true],
      ['UPDATE', 'WITH x AS (SELECT id FROM u WHERE flag) UPDATE t SET a = 1 FROM x WHERE t.id = x.id', false],
      ['DELETE', 'WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone WHERE true', true],
      ['DELETE', 'WITH gone AS (DELETE FROM t WHERE a < 3 RETURNING *) SELECT count(*) FROM gone', false],
      ['UPDATE', 'SELECT * FROM t FOR UPDATE; UPDATE t SET a = 1 WHERE id = 2', false],
      ['UPDATE', 'SELECT 1 WHERE true; UPDATE t SET a = 1', true],
      ['UPDATE', "UPDATE t SET note = 'x WHERE y'", true],
      ['UPDATE', 'UPDATE t SET a = $$ WHERE $$', true],
      ['TRUNCATE TABLE', 'TRUNCATE t', true],
      ['INSERT', 'INSERT INTO t SELECT * FROM u', false],
    ];
    for (const [command, text, expected] of cases) assert.equal(isUnboundedChange(text, command), expected, text);
  });

  it('reads what role statements grant, and nothing from comments, literals or names', () => {
    const cases: [string, string[]][] = [
      ['ALTER ROLE mallory SUPERUSER', ['SUPERUSER']],
      ['alter user x with createrole bypassrls login', ['CREATEROLE', 'BYPASSRLS']],
      ['ALTER ROLE x NOSUPERUSER /* SUPERUSER */', []],
      ["ALTER ROLE x WITH PASSWORD 'SUPERUSER'", []],
      ['ALTER ROLE superuser LOGIN', []],
      ['ALTER ROLE x SET search_path = superuser', []],
      ['ALTER ROLE x RENAME TO superuser', []],
      ['CREATE ROLE x SUPERUSER', ['SUPERUSER']],
      ['CREATE ROLE x IN ROLE pg_read_server_files, "Admins" LOGIN', ['pg_read_server_files', 'Admins']],
      ['GRANT pg_execute_server_program TO mallory', ['pg_execute_server_program']],
      ['GRANT "pg_write_server_files", dba TO x WITH ADMIN OPTION', ['pg_write_server_files', 'dba']],
      ['GRANT SELECT ON pg_execute_server_program TO x', []],
      ['SELECT 1; ALTER ROLE m NOCREATEROLE', []],
      ["SELECT 'x'; ALTER ROLE m REPLICATION", ['REPLICATION']],
      ['ALTER GROUP admins ADD USER bob', ['admins']],
    ];
    for (const [text, expected] of cases) assert.deepEqual(grantedPrivileges(text), expected, text);
  });

  it('reads the settings a statement changes, in every way a session can', () => {
    const cases: [string, string[]][] = [
      ["SET pgaudit.log = 'none'", ['pgaudit.log']],
      ['set local "pgaudit.log" to default', ['pgaudit.log']],
      ['SET SESSION log_statement = none', ['log_statement']],
      ['RESET pgaudit.log', ['pgaudit.log']],
      ['RESET ALL', []],
      ['SET TIME ZONE UTC', ['timezone']],
      ['SET ROLE admin', []],
      ["ALTER SYSTEM SET log_connections = off", ['log_connections']],
      ['ALTER SYSTEM RESET ALL', ['*']],
      ["ALTER ROLE app IN DATABASE shop SET pgaudit.log = 'none'", ['pgaudit.log']],
      ["ALTER DATABASE shop SET log_min_messages = panic", ['log_min_messages']],
      ["SELECT set_config('pgaudit.log', 'none', false)", ['pgaudit.log']],
      ["SELECT pg_catalog.set_config('PGAUDIT.LOG', 'none', true)", ['pgaudit.log']],
      ["BEGIN; SET LOCAL pgaudit.log = 'none'; SELECT 1; COMMIT", ['pgaudit.log']],
      ["SELECT 'SET pgaudit.log = none'", []],
      ['UPDATE t SET log_x = 1 WHERE id = 2', []],
      ["ALTER ROLE x PASSWORD 'set pgaudit.log'", []],
    ];
    for (const [text, expected] of cases) assert.deepEqual(changedSettings(text), expected, text);
  });

  it('reads the functions a statement calls, in DO and function bodies too', () => {
    const mention = /pg_read_file|lo_import/i;
    assert.deepEqual(calledFunctions("SELECT pg_catalog.pg_read_file('/etc/passwd')", mention), ['pg_read_file']);
    assert.deepEqual(calledFunctions("SELECT 'pg_read_file(x)', lo_import /* lo_import( */ ", mention), []);
    assert.deepEqual(calledFunctions("DO $$BEGIN PERFORM lo_import('/etc/shadow'); END$$", mention), ['lo_import']);
    assert.deepEqual(calledFunctions("CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT pg_read_file(''x'')'", mention), ['pg_read_file']);
    assert.deepEqual(calledFunctions('SELECT "pg_read_file"(\'x\')', mention), ['pg_read_file']);
    assert.deepEqual(calledFunctions('SELECT 1', mention), []);
  });

  it('reads the languages of created functions and DO blocks', () => {
    assert.deepEqual(usedLanguages("CREATE FUNCTION sys(cstring) RETURNS int LANGUAGE c AS '/lib/libc.so.6', 'system'"), ['c']);
    assert.deepEqual(usedLanguages("CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ return 1 $$ LANGUAGE 'plpython3u'"), ['plpython3u']);
    assert.deepEqual(usedLanguages('DO LANGUAGE plperlu $$ system("id") $$'), ['plperlu']);
    assert.deepEqual(usedLanguages("DO $$BEGIN RAISE NOTICE 'LANGUAGE c'; END$$"), ['plpgsql']);
    assert.deepEqual(usedLanguages('CREATE TABLE language (c int)'), []);
  });

  it('finds COPY … PROGRAM, not a program named in a literal', () => {
    assert.equal(isCopyProgram("COPY (SELECT 1) TO PROGRAM 'id'"), true);
    assert.equal(isCopyProgram("copy t from program 'curl http://x'"), true);
    assert.equal(isCopyProgram("COPY t TO '/tmp/program'"), false);
    assert.equal(isCopyProgram('COPY t TO STDOUT -- PROGRAM'), false);
  });

  it('finds event triggers disabled, dropped, or set to fire only for replicas', () => {
    assert.equal(disablesEventTrigger('ALTER EVENT TRIGGER pgwarden_ddl_command_end DISABLE'), true);
    assert.equal(disablesEventTrigger('ALTER EVENT TRIGGER x ENABLE REPLICA'), true);
    assert.equal(disablesEventTrigger('DROP EVENT TRIGGER IF EXISTS x'), true);
    assert.equal(disablesEventTrigger('ALTER EVENT TRIGGER x ENABLE'), false);
    assert.equal(disablesEventTrigger('ALTER EVENT TRIGGER x OWNER TO disable'), true, 'a name that reads DISABLE errs towards an alert');
  });
});
