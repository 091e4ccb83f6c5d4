// What install makes, as data: `status` compares the database with it and `install`
// restores it (tamper repair), so the two cannot disagree.
export const PINNED = 'search_path=pg_catalog, pg_temp';

export interface ExpectedFunction {
  signature: string;
  kind: 'FUNCTION' | 'PROCEDURE';
  securityDefiner: boolean;
  publicExecute: boolean;
}

export const EXPECTED_FUNCTIONS: readonly ExpectedFunction[] = [
  { signature: 'pgwarden.guard_check()', kind: 'FUNCTION', securityDefiner: true, publicExecute: true },
  { signature: 'pgwarden.guard_login()', kind: 'FUNCTION', securityDefiner: true, publicExecute: false },
  { signature: 'pgwarden.guard_decide(text,text,inet,text)', kind: 'FUNCTION', securityDefiner: true, publicExecute: false },
  { signature: 'pgwarden.guard_compile()', kind: 'FUNCTION', securityDefiner: true, publicExecute: false },
  { signature: 'pgwarden.guard_rules_case(text[])', kind: 'FUNCTION', securityDefiner: false, publicExecute: false },
  { signature: 'pgwarden.guard_refuse(bigint,text)', kind: 'FUNCTION', securityDefiner: true, publicExecute: false },
  { signature: 'pgwarden.guard_recompile_trigger()', kind: 'FUNCTION', securityDefiner: true, publicExecute: false },
  { signature: 'pgwarden.record_attempt(jsonb)', kind: 'PROCEDURE', securityDefiner: true, publicExecute: false },
  { signature: 'pgwarden.like_patterns_valid(text[])', kind: 'FUNCTION', securityDefiner: false, publicExecute: false },
  { signature: 'pgwarden.libpq_quote(text)', kind: 'FUNCTION', securityDefiner: false, publicExecute: false },
];

export const EXPECTED_TABLES: readonly string[] = [
  'migrations', 'guard_rules', 'guard_settings', 'guard_recorder', 'connection_attempts', 'compiled_functions',
];

export const EXPECTED_TRIGGERS: readonly { table: string; name: string }[] = [
  { table: 'guard_rules', name: 'guard_rules_recompile' },
  { table: 'guard_settings', name: 'guard_settings_recompile' },
];

export const LOGIN_EVENT_TRIGGER = 'pgwarden_guard_login';
