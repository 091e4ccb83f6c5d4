// What the attack fixture (test/detect/fixtures, scripts/record-detect-fixtures.ts) acts, rule by
// rule: the one alert each rule must give, and who it names. rules.test.ts checks that every
// built-in rule has its case here.
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface ExpectedAlert { rule: string; user: string | null; client_addr: string | null; count: number }

export const ATTACK_ALERTS: readonly ExpectedAlert[] = [
  { rule: 'brute_force', user: 'app_orders', client_addr: '127.0.0.23', count: 6 },
  { rule: 'password_spray', user: null, client_addr: '127.0.0.22', count: 6 },
  { rule: 'unknown_role_probe', user: null, client_addr: '127.0.0.21', count: 4 },
  { rule: 'sensitive_read', user: 'mallory', client_addr: '127.0.0.16', count: 1 },
  { rule: 'sensitive_write', user: 'mallory', client_addr: '127.0.0.16', count: 1 },
  { rule: 'mass_change', user: 'etl', client_addr: '127.0.0.14', count: 1 },
  { rule: 'off_hours_ddl', user: 'app_owner', client_addr: '127.0.0.18', count: 1 },
  { rule: 'off_hours_privileged_login', user: 'postgres', client_addr: '127.0.0.1', count: 1 },
  { rule: 'new_client_for_privileged_role', user: 'postgres', client_addr: '127.0.1.9', count: 1 },
  // SET pgaudit.log back to 'all' (the 'none' before it leaves no record), ALTER SYSTEM SET and RESET, ALTER EVENT TRIGGER … DISABLE
  { rule: 'audit_tampering', user: 'postgres', client_addr: '127.0.0.1', count: 4 },
  { rule: 'privilege_escalation', user: 'postgres', client_addr: '127.0.0.1', count: 2 },
  // COPY … TO PROGRAM, pg_read_file, CREATE FUNCTION … LANGUAGE internal
  { rule: 'server_program_execution', user: 'postgres', client_addr: '127.0.0.1', count: 3 },
  { rule: 'guard_refusal_burst', user: 'contractor', client_addr: '127.0.0.30', count: 6 },
  { rule: 'dormant_role_login', user: 'old_admin', client_addr: '127.0.0.17', count: 1 },
  // the custom rule of fixture.yaml: six failures, then the password worked
  { rule: 'failed_logins_then_success', user: 'app_orders', client_addr: '127.0.0.23', count: 7 },
];
