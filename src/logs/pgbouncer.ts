// pgBouncer's log (its logfile, or its stderr): one line per message,
//   2026-12-02 02:16:29.319 UTC [6970] LOG C-0x55fe94592720: appdb/app user@127.0.0.1:59666 login attempt: db=appdb user=app user tls=no
// (1.21 adds " replication=no"; versions before 1.12 wrote the pid without brackets and no
// zone). Client lines (C-0x…) become connection events marked as coming through the pooler
// (pooler `pgbouncer`, on every event of the log): a login attempt is `connection_received` with the user and
// database asked for, a failed authentication or login `auth_failed`, "closing because"
// `disconnection` with the client's age as duration_ms, a pooler error `error`. Server lines
// (S-0x…, pgBouncer's own connections to PostgreSQL) and the rest are kind `log`.
//
// User and database names are the client's choice and printed unquoted ("db/user@addr:port
// message"): a name may hold "@10.0.0.1:5 login attempt: …". A login attempt repeats both
// names, so its reading is the last one where they agree; the client's later lines are read with
// the description the login attempt gave (pgBouncer reuses the C-0x address for later clients,
// and the next login attempt replaces it).
import type { EventKind, PgwardenEvent } from '../core/event.ts';
import { newEvent } from './record.ts';
import { isoTimestamp } from './timestamp.ts';
import { LineInput } from './text-input.ts';

const LINE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})?)(?: ([A-Za-z][A-Za-z0-9+-]*|[+-]\d\d(?::?\d\d)?))? (?:\[(\d+)\]|(\d+)) (LOG|WARNING|ERROR|FATAL|DEBUG|NOISE|INFO) /;
const CLIENT = /^([CS])-0x[0-9a-f]+: /;
/** "@ADDR:PORT " after a user name: IPv4, IPv6, or unix. */
const ADDRESS = /@(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:]*:[0-9a-fA-F:.]*|unix):(\d{1,5}) /g;
const LOGIN = 'login attempt: db=';
const AGE = / \(age=(\d+)(s?)\)$/;

interface Described { db: string; user: string; addr: string; port: number; descriptor: string }

export class PgbouncerParser extends LineInput {
  /** The description of each client (by its C-0x address) from its login attempt. */
  private readonly clients = new Map<string, Described>();

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    if (end === start) return;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const line = text.slice(start, lineEnd);
    const m = LINE.exec(line);
    if (!m) {
      this.emitError(start, lineNo, 'not a pgBouncer log line (TIME [PID] LEVEL …)', line);
      return;
    }
    const event = newEvent(this.server, this.input, this.byteAt(start), lineNo);
    event.ts = m[2] ? isoTimestamp(`${m[1]} ${m[2]}`) : null;
    event.pid = Number(m[3] ?? m[4]);
    event.severity = m[5] === 'NOISE' ? 'DEBUG' : m[5] === 'INFO' ? 'INFO' : m[5]!;
    // pgBouncer is not a PostgreSQL backend: its lines are the pooler's (see PgwardenEvent.pooler).
    event.pooler = 'pgbouncer';
    const rest = line.slice(m[0].length);
    const c = CLIENT.exec(rest);
    if (!c) {
      event.message = rest;
      this.sink.event(event);
      return;
    }
    const ptr = rest.slice(0, c[0].length - 2);
    const body = rest.slice(c[0].length);
    if (c[1] === 'S') {
      event.message = body;
      this.sink.event(event);
      return;
    }
    const reading = this.read(ptr, body);
    if (reading === null) {
      event.message = body;
      event.kind = 'log';
      this.sink.event(event);
      return;
    }
    const [who, message] = reading;
    event.user = who.user === '(nouser)' ? null : who.user;
    event.database = who.db === '(nodb)' ? null : who.db;
    event.client_addr = who.addr === 'unix' ? '[local]' : who.addr;
    event.client_port = who.addr === 'unix' ? null : who.port;
    event.message = message;
    event.kind = kindOf(message, event);
    this.sink.event(event);
  }

  /** The client's description and the message, or null when the line cannot be read unambiguously. */
  private read(ptr: string, body: string): [Described, string] | null {
    // A login attempt: the reading where the names in the description and in the message agree;
    // of several (a name imitating the line), the last: text a name puts after the real
    // address is shorter than the names it would have to repeat.
    for (const candidate of candidates(body).reverse()) {
      const message = body.slice(candidate.end);
      if (!message.startsWith(LOGIN)) continue;
      const login = readLogin(candidate, message);
      if (login) {
        this.clients.set(ptr, login);
        return [login, message];
      }
    }
    const known = this.clients.get(ptr);
    if (known && body.startsWith(known.descriptor)) return [known, body.slice(known.descriptor.length)];
    // Before any login attempt of this client (the log begins later): only an unambiguous line.
    const all = candidates(body);
    if (all.length !== 1) return null;
    return [all[0]!, body.slice(all[0]!.end)];
  }
}

interface Candidate extends Described { end: number }

function candidates(body: string): Candidate[] {
  const out: Candidate[] = [];
  for (const m of body.matchAll(ADDRESS)) {
    const desc = body.slice(0, m.index);
    const slash = desc.indexOf('/');
    if (slash < 0) continue;
    const port = Number(m[2]);
    if (port > 65535) continue;
    const addr = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
    out.push({ db: desc.slice(0, slash), user: desc.slice(slash + 1), addr, port, descriptor: body.slice(0, m.index + m[0].length), end: m.index + m[0].length });
  }
  return out;
}

/** "login attempt: db=DB user=USER tls=X[ replication=Y]" agreeing with the description (db may be "(nodb)"; the db may hold "/"). */
function readLogin(candidate: Candidate, message: string): Described | null {
  const tail = / tls=\S+(?: replication=\S+)?$/.exec(message);
  if (!tail) return null;
  const names = message.slice(LOGIN.length, tail.index);
  const desc = candidate.descriptor.slice(0, candidate.descriptor.lastIndexOf('@'));
  // every "/" of the description is a possible split between db and user
  for (let slash = desc.indexOf('/'); slash >= 0; slash = desc.indexOf('/', slash + 1)) {
    const db = desc.slice(0, slash);
    const user = desc.slice(slash + 1);
    const suffix = ` user=${user}`;
    if (!names.endsWith(suffix)) continue;
    const asked = names.slice(0, names.length - suffix.length);
    if (db === asked || db === '(nodb)') return { ...candidate, db: asked, user };
  }
  return null;
}

function kindOf(message: string, event: PgwardenEvent): EventKind {
  if (message.startsWith(LOGIN)) return 'connection_received';
  if (message === 'password authentication failed' || message.startsWith('login failed: ') || message.startsWith('no such user')) return 'auth_failed';
  if (message.startsWith('closing because: ')) {
    const age = AGE.exec(message);
    if (age) event.duration_ms = Number(age[1]) * 1000;
    return 'disconnection';
  }
  if (message.startsWith('pooler error: ')) return 'error';
  return event.severity === 'ERROR' || event.severity === 'FATAL' ? 'error' : 'log';
}

/** Whether most of a sample's first lines are pgBouncer's. */
export function looksLikePgbouncer(sample: string): boolean {
  const lines = sample.split('\n', 20).filter((l) => l.length > 0);
  if (lines.length > 1 && !sample.endsWith('\n')) lines.pop();
  if (lines.length === 0) return false;
  let count = 0;
  for (const line of lines) if (LINE.test(line)) count++;
  return count >= lines.length * 0.9;
}
