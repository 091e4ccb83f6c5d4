// Secret masking: the one set of rules that both the DDL audit (pgwarden.redact_secrets(), generated
// from these rules by install and called by the event triggers before a statement is stored) and
// the pipeline's redaction (src/pipeline/redact.ts, before a sink sees an event) apply. The same
// cases (test/fixtures/secret-redaction-cases.json) are run through both sides in the tests.
//
// Each rule is a regular expression written in the subset that JavaScript and PostgreSQL's
// advanced regular expressions (ARE) read alike: (?:…) groups, [^…] brackets with \\ escapes,
// \s, *, + and ?, no lookbehind, no back-references, no \b (ARE spells it \y). Case-insensitive,
// every match. The replacement keeps the numbered groups given in `keep` and puts REDACTED
// where the secret was, as pgAudit writes <REDACTED> for role passwords.
import { PINNED_SET_CLAUSE } from './roles.ts';

export const REDACTED = '<REDACTED>';

export interface SecretRule {
  name: string;
  /** the pattern, with capture groups only for the text kept around the secret */
  pattern: string;
  /** the replacement: {1}, {2}… are the kept groups, {R} the mask */
  replacement: string;
}

/**
 * A string literal: the doubled-quote form a literal takes inside another one (EXECUTE 'ALTER ROLE
 * x PASSWORD ''secret'''), E'…' with backslash escapes, '…' or U&'…' with '' inside — each may go
 * on in a next literal on another line, as 'hun'<newline>'ter2' does — or $$…$$, $tag$…$tag$.
 */
const QUOTED = String.raw`(?:''(?:[^']|'''')+''|[Ee]'(?:[^'\\]|\\.|'')*'|(?:[Uu]&)?'(?:[^']|'')*')`;
const LITERAL = String.raw`(?:${QUOTED}(?:\s*\n\s*${QUOTED})*|\$\$(?:[^$]|\$[^$])*\$\$|\$[A-Za-z_][A-Za-z0-9_]*\$(?:[^$]|\$[^$])*\$[A-Za-z_][A-Za-z0-9_]*\$)`;
/** Between a keyword and its literal: spaces, newlines, comments, or nothing (PASSWORD'x'). */
const GAP = String.raw`(?:\s|/\*[^*]*\*+(?:[^/*][^*]*\*+)*/|--[^\n]*\n)*`;

export const SECRET_RULES: readonly SecretRule[] = [
  {
    // CREATE/ALTER ROLE|USER|GROUP … [ENCRYPTED] PASSWORD '…'; and option lists of foreign servers,
    // user mappings and foreign data wrappers: OPTIONS (password '…'), (ADD|SET "sslpassword" '…').
    name: 'password or secret literal',
    pattern: String.raw`((?:password|passwd|passphrase|secret|sslkey|private_key|token|api_key|access_key|secret_key)"?${GAP})${LITERAL}`,
    replacement: '{1}{R}',
  },
  {
    // A libpq connection string inside a literal (dblink_connect('… password=…'), CREATE SUBSCRIPTION
    // … CONNECTION '… password=…'): an unquoted value, or one quoted as '' inside the SQL literal.
    name: 'conninfo password',
    pattern: String.raw`(password\s*=\s*)(?:''(?:[^'\\]|\\.)*''|[^\s']+)`,
    replacement: '{1}{R}',
  },
  {
    // A connection URI with a password: postgresql://user:secret@host
    name: 'URI password',
    pattern: String.raw`(://[^:/@\s']*:)[^@\s']+(@)`,
    replacement: '{1}{R}{2}',
  },
];

function jsReplacement(rule: SecretRule): string {
  return rule.replacement.replaceAll('{R}', REDACTED).replace(/\{(\d)\}/g, '$$$1');
}

function sqlReplacement(rule: SecretRule): string {
  return rule.replacement.replaceAll('{R}', REDACTED).replace(/\{(\d)\}/g, '\\$1');
}

const COMPILED = SECRET_RULES.map((rule) => ({ regex: new RegExp(rule.pattern, 'gi'), replacement: jsReplacement(rule) }));

/** The text with every secret the rules know replaced by <REDACTED>. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const { regex, replacement } of COMPILED) out = out.replace(regex, replacement);
  return out;
}

/** A SQL string literal in E'' form (means the same whatever standard_conforming_strings says). */
function literal(text: string): string {
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * CREATE OR REPLACE FUNCTION pgwarden.redact_secrets(text), the rules as nested regexp_replace()
 * calls. Install runs it every time (so the function is what this release's rules say) and records
 * its hash; NULL in, NULL out.
 */
export function redactSecretsFunctionSql(): string {
  let body = 'p_text';
  for (const rule of SECRET_RULES) {
    body = `pg_catalog.regexp_replace(${body}, ${literal(rule.pattern)}, ${literal(sqlReplacement(rule))}, 'gi')`;
  }
  return `CREATE OR REPLACE FUNCTION pgwarden.redact_secrets(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ${PINNED_SET_CLAUSE} AS $redact$
  -- Generated from src/core/secrets.ts (SECRET_RULES): edit the rules there, not here.
  SELECT ${body}
$redact$`;
}
