// pgAudit's record, the text after "AUDIT: ":
//   TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,OBJECT_TYPE,OBJECT_NAME,STATEMENT,PARAMETER[,ROWS]
// Each text field is CSV-quoted (" doubled) when it holds a comma, a quote, CR or LF. PARAMETER is
// `<not logged>`, `<none>`, or the parameters as one CSV list that is itself CSV-quoted;
// STATEMENT and PARAMETER are both `<previously logged>` with pgaudit.log_statement_once, and
// both `<not logged>` with pgaudit.log_statement off. ROWS follows with pgaudit.log_rows.
import type { AuditInfo } from '../core/event.ts';

export const AUDIT_MARK = 'AUDIT: ';

/** Splits CSV text into fields (null for an empty unquoted field); returns null when the quoting is broken. */
export function splitCsv(text: string, from = 0): (string | null)[] | null {
  const fields: (string | null)[] = [];
  const n = text.length;
  let pos = from;
  // The next quote at or after pos (-1: none): an unquoted field must end before it.
  let quoteAt = text.indexOf('"', pos);
  for (;;) {
    if (quoteAt === pos) {
      let at = pos + 1;
      let escaped = false;
      let value: string;
      for (;;) {
        const quote = text.indexOf('"', at);
        if (quote < 0) return null;
        if (text.charCodeAt(quote + 1) === 34) {
          escaped = true;
          at = quote + 2;
          continue;
        }
        value = text.slice(pos + 1, quote);
        pos = quote + 1;
        break;
      }
      fields.push(escaped ? value.replaceAll('""', '"') : value);
      if (pos >= n) return fields;
      if (text.charCodeAt(pos) !== 44) return null;
      pos++;
      quoteAt = text.indexOf('"', pos);
    } else {
      const comma = text.indexOf(',', pos);
      const end = comma < 0 ? n : comma;
      if (quoteAt >= 0 && quoteAt < end) return null;
      fields.push(end === pos ? null : text.slice(pos, end));
      if (comma < 0) return fields;
      pos = comma + 1;
    }
  }
}

/** The value of a statement id, substatement id or row count (up to 15 digits), or -1. */
function idValue(text: string | null | undefined): number {
  if (!text || text.length > 15) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    value = value * 10 + (c - 48);
  }
  return value;
}

function isClass(text: string | null | undefined): text is string {
  if (!text) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || c === 95)) return false;
  }
  return true;
}

/**
 * Reads a pgAudit message (with or without the leading "AUDIT: "). Returns the record, or a
 * one-line reason why the text is not a well-formed pgAudit record.
 */
export function parseAudit(message: string, from = message.startsWith(AUDIT_MARK) ? AUDIT_MARK.length : 0): AuditInfo | string {
  const f = splitCsv(message, from);
  if (f === null) return 'pgAudit record with broken CSV quoting';
  if (f.length !== 9 && f.length !== 10) return `pgAudit record with ${f.length} fields (expected 9, or 10 with pgaudit.log_rows)`;
  const type = f[0];
  const klass = f[3];
  const command = f[4];
  const statement = f[7];
  const parameter = f[8];
  if (type !== 'SESSION' && type !== 'OBJECT') return `pgAudit record of unknown type ${JSON.stringify(type)}`;
  const statementId = idValue(f[1]);
  const substatementId = idValue(f[2]);
  if (statementId < 0 || substatementId < 0) return 'pgAudit record without numeric statement and substatement ids';
  if (!isClass(klass)) return `pgAudit record with class ${JSON.stringify(klass)}`;
  if (!command) return 'pgAudit record without a command';
  const rows = f.length === 10 ? (f[9] === '-1' ? -1 : idValue(f[9])) : null;
  if (rows === -1 && f[9] !== '-1') return `pgAudit record with rows ${JSON.stringify(f[9])}`;
  let statementLogged: AuditInfo['statement_logged'] = 'yes';
  let text: string | null = statement ?? '';
  if (statement === '<not logged>') { statementLogged = 'no'; text = null; }
  else if (statement === '<previously logged>') { statementLogged = 'previously'; text = null; }
  let parameters: (string | null)[] | null;
  if (parameter === '<not logged>' || parameter === '<previously logged>') parameters = null;
  else if (parameter === '<none>') parameters = [];
  else if (parameter === null || parameter === undefined) parameters = [null];
  else {
    const list = splitCsv(parameter);
    if (list === null) return 'pgAudit record with a broken parameter list';
    parameters = list;
  }
  return {
    type,
    statement_id: statementId,
    substatement_id: substatementId,
    class: klass,
    command,
    object_type: f[5] ?? null,
    object_name: f[6] ?? null,
    statement: text,
    parameters,
    statement_logged: statementLogged,
    rows,
  };
}
