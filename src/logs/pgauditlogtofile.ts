// pgauditlogtofile's audit file (the pgAudit add-on that writes audit records to a file of
// their own, pgaudit.log_directory/pgaudit.log_filename; Debian's postgresql-15-pgauditlogtofile
// 1.5). Each line holds csvlog's first 23 columns (time, user, database, pid, host:port, session
// id, session line, command tag, session start, virtual xid, xid, sqlstate, message, detail,
// hint, internal query, its position, context, statement, its position, location,
// application_name) — but written as they are, not CSV-quoted: a role, database or
// application name with a comma or a quote in it is not escaped. For an audit record the
// message is pgAudit's own fields (TYPE,STATEMENT_ID,…,STATEMENT,PARAMETER, quoted by pgAudit)
// without "AUDIT: "; with pgaudit.log_connections/log_disconnections the server's connection
// messages are there too.
//
// Reading it: the columns up to the sqlstate have fixed shapes but for user and database (split
// at the first comma between them: a name with a comma is read wrongly, and only an
// administrator can create one). An audit record is read as pgAudit's fields by its quoting,
// then the 8 columns it leaves empty, and the application name is all the rest of the line, so
// an application name (the client's choice) with commas and quotes stays the application name.
// Other lines (the server's connection messages): see readOther().
import type { PgwardenEvent } from '../core/event.ts';
import { AUDIT_MARK } from './pgaudit.ts';
import { newEvent, splitHostPort, type ParseSink } from './record.ts';
import { isoTimestamp } from './timestamp.ts';
import { LineInput, type TextStart } from './text-input.ts';

const TS = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})? [A-Za-z0-9+-]+`;
const HEAD = new RegExp(String.raw`^(${TS}),(.*?),(.*?),(\d+),([^,"]*),([0-9a-f]+\.[0-9a-f]+),(\d+),([^,"]*),(${TS}|),(\d+/\d+|),(\d+),([0-9A-Z]{5}),`);
const AUDIT_START = /^(?:SESSION|OBJECT),\d+,\d+,[A-Z_]+,/;
const EMPTY_RUN = ',,,,,,,,';

interface Pending { text: string; index: number; position: number; line: number }

export class PgauditLogToFileParser extends LineInput {
  private pending: Pending | null = null;

  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    const line = text.slice(start, end);
    const pending = this.pending;
    // A line continues the record before it when that record is an audit record still inside
    // a quoted statement (a statement's new line), whatever the line looks like; otherwise a
    // line starts a record when its columns have their shapes.
    if (pending !== null && (openQuote(pending.text) || !HEAD.test(line))) {
      pending.text += `\n${line}`;
      return;
    }
    this.flush();
    if (end === start) return;
    if (!HEAD.test(line)) {
      this.emitError(start, lineNo, 'not a pgauditlogtofile line (TIME,user,database,pid,host:port,session,…)', line);
      return;
    }
    this.pending = { text: line, index: start, position: this.byteAt(start), line: lineNo };
  }

  override flush(): void {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    this.record(pending);
  }

  private record(pending: Pending): void {
    const head = HEAD.exec(pending.text)!;
    const event = newEvent(this.server, this.input, pending.position, pending.line);
    event.ts = isoTimestamp(head[1]!);
    event.user = head[2] || null;
    event.database = head[3] || null;
    event.pid = Number(head[4]);
    if (head[5]) [event.client_addr, event.client_port] = splitHostPort(head[5]);
    event.session_id = head[6]!;
    event.session_line = Number(head[7]);
    const state = head[12]!;
    event.sqlstate = state === '00000' ? null : state;
    // the file has no severity column: pgAudit's and the connection messages are LOG, a failed login FATAL
    event.severity = event.sqlstate !== null && event.sqlstate.startsWith('28') ? 'FATAL' : 'LOG';
    const rest = pending.text.slice(head[0].length);
    const problem = AUDIT_START.test(rest) ? readAudit(event, rest) : (readOther(event, rest), null);
    if (problem !== null) this.sink.error({ input: this.input, position: pending.position, line: pending.line, reason: problem, excerpt: pending.text.slice(0, 200) });
    this.emitEvent(event);
  }
}

/** Whether an audit record's text ends inside a quoted field (its statement goes on on the next line). */
function openQuote(text: string): boolean {
  const head = HEAD.exec(text);
  if (!head) return false;
  const rest = text.slice(head[0].length);
  return AUDIT_START.test(rest) && csvFieldsEnd(rest, 9) === -2;
}

/** An audit record: pgAudit's fields, the 8 empty columns, the application name. Returns a problem or null. */
function readAudit(event: PgwardenEvent, rest: string): string | null {
  const end = csvFieldsEnd(rest, 9);
  if (end < 0) {
    event.message = rest;
    return 'pgauditlogtofile audit record with broken quoting';
  }
  let auditEnd = end;
  const rows = /^,(-?\d+)(?=,)/.exec(rest.slice(end));
  if (rows && rest.startsWith(EMPTY_RUN, end + rows[0].length)) auditEnd = end + rows[0].length;
  if (!(rest.startsWith(EMPTY_RUN, auditEnd) && rest.charCodeAt(auditEnd + EMPTY_RUN.length) === 44)
    && !(rest.length === auditEnd + EMPTY_RUN.length && rest.endsWith(EMPTY_RUN))) {
    // a detail, context or statement: pgAudit hides them, so this is not pgAudit's record
    event.message = rest;
    return 'pgauditlogtofile line that starts like an audit record but has a detail, context or statement';
  }
  event.message = `${AUDIT_MARK}${rest.slice(0, auditEnd)}`;
  event.application = rest.slice(auditEnd + EMPTY_RUN.length + 1) || null;
  return null;
}

/**
 * A connection message: MESSAGE,DETAIL then 7 empty columns then the application name. The
 * separator is the first run of 8 commas (ending where a run ends) — the server's messages
 * hold no client text before it — except in "connection authorized", whose message ends with
 * the application name: there, the run after which the rest is the name the message gives.
 */
function readOther(event: PgwardenEvent, rest: string): void {
  const runs: number[] = [];
  for (let i = rest.indexOf(EMPTY_RUN); i >= 0; i = rest.indexOf(EMPTY_RUN, i + 1)) {
    if (rest.charCodeAt(i + EMPTY_RUN.length) !== 44) runs.push(i);
  }
  let run = runs[0] ?? -1;
  if (rest.startsWith('connection authorized: ')) {
    const consistent = runs.find((i) => {
      const app = rest.slice(i + EMPTY_RUN.length);
      return app === '' || rest.slice(0, i).includes(` application_name=${app}`);
    });
    if (consistent !== undefined) run = consistent;
  }
  let body = rest;
  if (run >= 0) {
    event.application = rest.slice(run + EMPTY_RUN.length) || null;
    body = rest.slice(0, run);
    if (body.endsWith(',')) {
      // no detail
      event.message = body.slice(0, -1);
      return;
    }
  }
  const split = findDetail(body);
  event.message = split < 0 ? body : body.slice(0, split);
  event.detail = split < 0 ? null : body.slice(split + 1);
}

/** The index of the comma before a detail sentence ("…,Connection matched …"), or -1. */
function findDetail(body: string): number {
  for (let i = body.lastIndexOf(','); i > 0; i = body.lastIndexOf(',', i - 1)) {
    const c = body.charCodeAt(i + 1);
    if (c >= 65 && c <= 90 && /^(?:Connection matched|Role |User |Password |No )/.test(body.slice(i + 1, i + 20))) return i;
  }
  return -1;
}

/** Where `count` CSV fields (pgAudit's quoting) starting at 0 end; -1 when the quoting is broken, -2 inside an open quote. */
function csvFieldsEnd(text: string, count: number): number {
  let pos = 0;
  for (let k = 0; k < count; k++) {
    if (k > 0) {
      if (text.charCodeAt(pos) !== 44) return -1;
      pos++;
    }
    if (text.charCodeAt(pos) === 34) {
      let at = pos + 1;
      for (;;) {
        const q = text.indexOf('"', at);
        if (q < 0) return -2;
        if (text.charCodeAt(q + 1) === 34) { at = q + 2; continue; }
        pos = q + 1;
        break;
      }
    } else {
      const comma = text.indexOf(',', pos);
      const quote = text.indexOf('"', pos);
      if (quote >= 0 && (comma < 0 || quote < comma)) return -1;
      pos = comma < 0 ? text.length : comma;
    }
  }
  return pos;
}

export function looksLikePgauditLogToFile(sample: string): boolean {
  const lines = sample.split('\n', 20).filter((l) => HEAD.test(l));
  return lines.length > 0 && lines.length >= sample.split('\n', 20).filter((l) => /^\d{4}-/.test(l)).length * 0.9;
}
