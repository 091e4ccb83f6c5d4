// Redaction: masks the literals of SQL text (strings, numbers, bit/hex strings, dollar-quoted
// bodies) with `?` and replaces bind parameters with `?`, before a sink sees an event. Keywords,
// identifiers (bare or quoted), operators, casts, comments and positional parameters ($1) are
// kept exactly as written. Pure; a scanner that follows PostgreSQL's lexical rules
// (https://www.postgresql.org/docs/current/sql-syntax-lexical.html), not a parser.
import type { PgwardenEvent } from '../core/event.ts';
import { redactSecrets } from '../core/secrets.ts';

export interface RedactOptions {
  /** mask literals in audit statements, query text and DDL statements */
  literals: boolean;
  /** replace every bind parameter value with '?' */
  parameters: boolean;
}

export const MASK = '?';

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const NUMBER = /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.(?!\.)[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** End index (exclusive) of a quoted run starting at `start` (the opening quote); `backslash` for E'' strings. */
function endOfQuoted(sql: string, start: number, quote: string, backslash: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (backslash && c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length; // unterminated: the rest is the literal
}

/**
 * The end of a string literal at `start` (an opening quote), including the SQL-standard
 * continuation: another quoted string after whitespace that contains a newline.
 */
function endOfString(sql: string, start: number, backslash: boolean): number {
  let end = endOfQuoted(sql, start, "'", backslash);
  for (;;) {
    const gap = /^[ \t\r\f]*\n\s*'/.exec(sql.slice(end, end + 256));
    if (!gap) return end;
    end = endOfQuoted(sql, end + gap[0].length - 1, "'", backslash);
  }
}

/** The statement with every literal replaced by `?`. */
export function redactSql(sql: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    // comments: kept as written
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') { depth++; j += 2; } else if (sql[j] === '*' && sql[j + 1] === '/') { depth--; j += 2; } else j++;
      }
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    if (c === '"') {
      const end = endOfQuoted(sql, i, '"', false);
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    if (c === "'") {
      out += MASK;
      i = endOfString(sql, i, false);
      continue;
    }
    if (c === '$') {
      const param = /^\$\d+/.exec(sql.slice(i, i + 24));
      if (param) {
        out += param[0];
        i += param[0].length;
        continue;
      }
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 256));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        out += MASK;
        i = close < 0 ? n : close + tag[0].length;
        continue;
      }
      out += c;
      i++;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(sql[j]!)) j++;
      const word = sql.slice(i, j);
      const lower = word.toLowerCase();
      // E'…', B'…', X'…', N'…' and U&'…' are literals; U&"…" a quoted identifier.
      if (sql[j] === "'" && (lower === 'e' || lower === 'b' || lower === 'x' || lower === 'n')) {
        out += MASK;
        i = endOfString(sql, j, lower === 'e');
        continue;
      }
      if (lower === 'u' && sql[j] === '&' && sql[j + 1] === "'") {
        out += MASK;
        i = endOfString(sql, j + 1, false);
        // UESCAPE 'c' belongs to the literal
        const uescape = /^\s*UESCAPE\s*'[^']*'/i.exec(sql.slice(i, i + 64));
        if (uescape) i += uescape[0].length;
        continue;
      }
      out += word;
      i = j;
      continue;
    }
    if (/[0-9.]/.test(c)) {
      const number = NUMBER.exec(sql.slice(i, i + 512));
      if (number) {
        out += MASK;
        i += number[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}

function csv(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** The AUDIT: message as pgAudit writes it, from the (redacted) audit fields. */
export function auditMessage(audit: NonNullable<PgwardenEvent['audit']>): string {
  const statement = audit.statement_logged === 'no' ? '<not logged>'
    : audit.statement_logged === 'previously' ? '<previously logged>' : csv(audit.statement ?? '');
  const parameters = audit.parameters === null ? (audit.statement_logged === 'previously' ? '<previously logged>' : '<not logged>')
    : audit.parameters.length === 0 ? '<none>' : csv(audit.parameters.map((p) => csv(p ?? '')).join(','));
  const fields = [audit.type, String(audit.statement_id), String(audit.substatement_id), audit.class, audit.command,
    csv(audit.object_type ?? ''), csv(audit.object_name ?? ''), statement, parameters];
  if (audit.rows !== null) fields.push(String(audit.rows));
  return `AUDIT: ${fields.join(',')}`;
}

/** Log lines that carry a statement: log_statement, log_min_duration_statement, extended-protocol steps. */
const STATEMENT_MESSAGE = /^((?:duration: [\d.]+ ms\s+)?(?:statement|(?:execute|parse|bind) [^:\n]*): )([\s\S]*)$/;

/**
 * A copy of the event with its SQL text and parameters redacted as configured (the event itself
 * is not changed): the audit statement and parameters, the AUDIT: message rebuilt from them, the
 * query text, the DDL statement, statements in `statement:`/`execute …:` messages and the
 * `parameters: $1 = '…'` detail. Error messages and details in prose are left as they are.
 */
export function redactEvent(event: PgwardenEvent, options: RedactOptions): PgwardenEvent {
  const masked = maskSecrets(event);
  if (!options.literals && !options.parameters) return masked;
  const copy: PgwardenEvent = masked === event ? { ...event } : masked;
  if (options.literals) {
    if (copy.query !== null) copy.query = redactSql(copy.query);
    if (copy.ddl !== null && copy.ddl.statement !== null) copy.ddl = { ...copy.ddl, statement: redactSql(copy.ddl.statement) };
    const statement = copy.message === null || copy.audit !== null ? null : STATEMENT_MESSAGE.exec(copy.message);
    if (statement) copy.message = statement[1]! + redactSql(statement[2]!);
  }
  if (options.parameters && copy.detail !== null && copy.detail.startsWith('parameters: ')) copy.detail = redactSql(copy.detail);
  if (copy.audit !== null) {
    const audit = { ...copy.audit };
    // (maskSecrets already masked passwords in the statement)
    if (options.literals && audit.statement !== null) audit.statement = redactSql(audit.statement);
    if (options.parameters && audit.parameters !== null) audit.parameters = audit.parameters.map((p) => (p === null ? null : MASK));
    copy.audit = audit;
    // the raw AUDIT: line would give away what was masked
    if (copy.message !== null) copy.message = auditMessage(audit);
  }
  return copy;
}

/**
 * A copy with passwords masked whatever the options say (src/core/secrets.ts, the rules the DDL
 * audit applies before it stores a statement): the query text, the DDL statement, the audit
 * statement, the message, and the detail, hint and context that may quote a statement.
 */
export function maskSecrets(event: PgwardenEvent): PgwardenEvent {
  const mask = (text: string | null) => (text === null ? null : redactSecrets(text));
  // detail, hint and context carry statements too (PL/pgSQL's `SQL statement "ALTER ROLE …"`).
  const query = mask(event.query);
  const message = mask(event.message);
  const detail = mask(event.detail);
  const hint = mask(event.hint);
  const context = mask(event.context);
  const ddl = event.ddl === null ? null : mask(event.ddl.statement);
  const audit = event.audit === null ? null : mask(event.audit.statement);
  // Nothing to mask (the usual case): the event itself, as redactEvent always returned it.
  if (query === event.query && message === event.message && detail === event.detail && hint === event.hint && context === event.context
    && ddl === (event.ddl?.statement ?? null) && audit === (event.audit?.statement ?? null)) return event;
  const copy: PgwardenEvent = { ...event, query, message, detail, hint, context };
  if (copy.ddl !== null) copy.ddl = { ...copy.ddl, statement: ddl };
  if (copy.audit !== null) copy.audit = { ...copy.audit, statement: audit };
  return copy;
}
