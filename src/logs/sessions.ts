// Reading the first line of a stderr record when client-chosen text sits in the log_line_prefix,
// and sessions built from what the log proves.
//
// A prefix with %a (or %u, %d, %h …) before the severity word can be read more than one way: an
// application name `a ERROR:  b` ends the prefix early, a role `alice@example.com` with `%u@%d`
// splits at the wrong `@`. StderrReader reads each line the way the log itself supports:
// - the user and database of a session are what its `connection authorized` record says (they
//   never change in a backend), so lines of a known session are read with those values;
// - where the line can still end its prefix in several places (client text holding a severity
//   word with PostgreSQL's own `WORD:  ` spacing), every reading is looked at and the one that is
//   a session's first `connection authorized` record wins (while the session is not authorized
//   and its own prefix names the user and database it says), then a disconnection of the
//   session, then a pgAudit record, then any record over an extra line (DETAIL, STATEMENT, …) — so
//   client text can neither hide an audit record, nor turn it into an error, nor fold a record
//   into the one before; such a line is counted (`ambiguous`).
//
// Sessions: per pid, from `connection received` (a new backend) to `disconnection`. Without %c in
// the prefix, each session gets a synthetic id of %c's shape, hex(start second).hex(pid), from its
// `connection received` record; events of the session get its application and client when their
// own prefix did not carry them. The state at any point of a log depends only on the record lines
// that contain "onnection" (received, authorized, disconnection), so RecordSplitter can hand it to
// a piece parsed on its own (TextStart.sessions) and pieces give what one parse gives.
import type { PgwardenEvent } from '../core/event.ts';
import { objectArray } from '../core/object-array.ts';
import { readJoined } from './linebreak.ts';
import { AUTHORIZED, DISCONNECTION, RECEIVED, SUFFIXES } from './messages.ts';
import { parseAudit } from './pgaudit.ts';
import { MATCH_STEP_LIMIT, PrefixMatcher } from './prefix.ts';
import { toInt } from './record.ts';

/** A session as the log proved it so far. */
export interface SessionSeed {
  pid: number;
  /** The synthetic session id (prefix without %c), or null. */
  id: string | null;
  user: string | null;
  database: string | null;
  application: string | null;
  client_addr: string | null;
  client_port: number | null;
}

/**
 * Every session object made here, so all have one shape (hidden class): sessions handed over
 * from another thread (structured clones) or spread copies have others, and each new shape seen
 * in note() or read() threw their optimized code away, to be compiled again (on every thread).
 */
function newSession(pid: number, id: string | null, user: string | null, database: string | null, application: string | null,
  client_addr: string | null, client_port: number | null): SessionSeed {
  return { pid, id, user, database, application, client_addr, client_port };
}

/** A copy of a session (a piece's seed, a snapshot), made by newSession. */
function copySession(s: SessionSeed): SessionSeed {
  return newSession(s.pid, s.id, s.user, s.database, s.application, s.client_addr, s.client_port);
}

/** Sessions remembered at most (oldest forgotten first): a log without disconnection records would grow without end. */
export const MAX_SESSIONS = 10_000;
/** Readings of one line looked at, at most. */
const MAX_READINGS = 8;

const AUTHENTICATED = 'connection authenticated: identity="';
const AUDIT = 'AUDIT: ';
/** The server (re)started or a crash ended every backend: no session of before goes on. */
const READY = 'database system is ready to accept ';
const REINITIALIZING = 'all server processes terminated; reinitializing';

/** The substring every record that changes the session state contains. */
export const SESSION_MARK = 'onnection';
/** …and the one record that does not, whole (a long needle: the splitter scans every byte for it, and a longer one is found faster). */
export const RESTART_MARK = REINITIALIZING;

/** %c's shape from a start time and a pid: hex seconds since 1970, a dot, hex pid. */
export function syntheticSessionId(ts: string, pid: number): string | null {
  const ms = Date.parse(ts);
  if (!Number.isFinite(ms)) return null;
  return `${Math.floor(ms / 1000).toString(16)}.${pid.toString(16)}`;
}

/** user and database of `connection authorized: user=U database=D[ application_name=A]…` (as messages.ts reads it). */
function authorizedFacts(message: string): { user: string; database: string | null; application: string | null } {
  let rest = message.slice(AUTHORIZED.length);
  for (const suffix of SUFFIXES) {
    const at = rest.lastIndexOf(suffix);
    if (at >= 0 && rest.endsWith(')')) rest = rest.slice(0, at);
  }
  const appAt = rest.indexOf(' application_name=');
  const application = appAt >= 0 ? rest.slice(appAt + 18) || null : null;
  const head = appAt >= 0 ? rest.slice(0, appAt) : rest;
  const dbAt = head.lastIndexOf(' database=');
  return dbAt >= 0 ? { user: head.slice(0, dbAt), database: head.slice(dbAt + 10), application } : { user: head, database: null, application };
}

/**
 * The login name PostgreSQL quoted in a failed login's message (password/ident/peer/… authentication
 * failed for user "X"; role "X" does not exist; no pg_hba.conf entry for host "H", user "X", …),
 * or null. The name is not escaped: it is read up to the quote that ends the message's own text.
 */
export function quotedLogin(message: string): string | null {
  const failed = message.indexOf(' authentication failed for user "');
  if (failed >= 0 && message.endsWith('"')) return message.slice(failed + 33, -1);
  if (message.startsWith('role "') && message.endsWith('" does not exist')) return message.slice(6, -16);
  if (message.startsWith('no pg_hba.conf entry for ') || message.startsWith('pg_hba.conf rejects connection for ')) {
    const at = message.indexOf(', user "');
    const end = message.lastIndexOf('", database "');
    if (at >= 0 && end > at) return message.slice(at + 8, end);
  }
  return null;
}

/** user and database of `disconnection: session time: T user=U database=D host=H…`, or null. */
function disconnectionFacts(message: string): { user: string; database: string } | null {
  const rest = message.slice(DISCONNECTION.length);
  const userAt = rest.indexOf(' user=');
  const hostAt = rest.lastIndexOf(' host=');
  if (userAt < 0 || hostAt < userAt) return null;
  const head = rest.slice(userAt + 6, hostAt);
  const dbAt = head.lastIndexOf(' database=');
  return dbAt < 0 ? null : { user: head.slice(0, dbAt), database: head.slice(dbAt + 10) };
}

/**
 * True when `message` is exactly the disconnection record of this session:
 * `disconnection: session time: H:MM:SS.mmm user=U database=D host=H[ port=P]` with the
 * session's user, database, host and port, to the end of the line. What an application name
 * could put before a real record can then only be this record itself.
 */
function isDisconnectionOf(message: string, session: SessionSeed): boolean {
  if (session.user === null || session.database === null || session.client_addr === null) return false;
  let i = DISCONNECTION.length;
  const digitsFrom = i;
  while (isDigit(message.charCodeAt(i))) i++;
  if (i === digitsFrom || message.charCodeAt(i) !== 58) return false;
  for (const [offset, code] of [[1, -1], [2, -1], [3, 58], [4, -1], [5, -1], [6, 46], [7, -1], [8, -1], [9, -1]] as const) {
    const c = message.charCodeAt(i + offset);
    if (code === -1 ? !isDigit(c) : c !== code) return false;
  }
  const rest = `${message.slice(i + 10)}`;
  const port = session.client_port === null ? '' : ` port=${session.client_port}`;
  return rest === ` user=${session.user} database=${session.database} host=${session.client_addr}${port}`;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export class StderrReader {
  readonly matcher: PrefixMatcher;
  /** Sessions by pid (insertion order: oldest first). */
  private readonly sessions = new Map<number, SessionSeed>();
  /** The prefix has %p: sessions can be followed. */
  readonly tracks: boolean;
  /** The prefix has %p but not %c: sessions get synthetic ids. */
  readonly synthetic: boolean;
  /** After read(): why the line stayed ambiguous (counted as a parse error by the parser), or null. */
  ambiguous: string | null = null;
  /**
   * After read(): false when the line could end its prefix in several places and the reading
   * taken is not one proven by the session (then its boundary may lie inside client text: it
   * must not open, authorize or end a session).
   */
  settled = true;
  /** After read(): the line's own prefix names another user or database than its pid's session (a backend whose records were missed). */
  private stale = false;
  /**
   * Undo steps of the session changes note() made, while the parser may still rewind them (a
   * later tail line shows the lines were client text: linebreak.ts); empty unless keepUndo() was called.
   */
  private readonly undo: (() => void)[] = objectArray();
  /** keepUndo() was called: note() records undo steps. */
  private keepsUndo = false;
  /** How many undo steps were forgotten before undo[0]. */
  private undoBase = 0;
  /** read()'s session lookup, for note() on the same line. */
  private lastPid: number | null = null;
  private lastSession: SessionSeed | undefined;
  /** read() tries matchProven first: %p before %u and %d, and no other free text before the severity. */
  private readonly fastProven: boolean;
  /** For matchProven: the proven user and database of a pid's session (and remembers the lookup for note()). */
  private readonly provenOf = (pid: number): SessionSeed | null => {
    const session = this.sessions.get(pid);
    this.lastPid = pid;
    this.lastSession = session;
    return session === undefined || session.user === null ? null : session;
  };

  constructor(prefix: string, seeds: readonly SessionSeed[] = []) {
    this.matcher = new PrefixMatcher(prefix);
    this.tracks = this.matcher.has('p');
    this.synthetic = this.tracks && !this.matcher.has('c');
    this.fastProven = this.tracks && this.matcher.textBeforeLevel && this.matcher.onlyUserDatabase && this.matcher.pidFirst;
    for (const seed of seeds) this.sessions.set(seed.pid, copySession(seed));
  }

  /** Keeps undo steps of the session changes from now on (see rewind). */
  keepUndo(): void {
    this.keepsUndo = true;
  }

  /** A mark for rewind(): the session changes made so far. */
  get undoMark(): number {
    return this.undoBase + this.undo.length;
  }

  /** The changes before `mark` will not be rewound. */
  forget(mark: number): void {
    const undo = this.undo;
    if (!this.keepsUndo || mark <= this.undoBase) return;
    undo.splice(0, mark - this.undoBase);
    this.undoBase = mark;
  }

  /** Undoes the session changes made since `mark` (latest first). */
  rewind(mark: number): void {
    const undo = this.undo;
    while (this.undoBase + undo.length > mark) undo.pop()!();
    this.lastPid = null;
    this.lastSession = undefined;
  }

  /** The sessions open now (copies), for a piece that starts here. */
  snapshot(): SessionSeed[] {
    return Array.from(this.sessions.values(), copySession);
  }

  /**
   * Reads the first line of a record (not a continuation line). Returns false when the line
   * does not start with the prefix and a severity; otherwise the matcher holds the reading.
   */
  read(line: string): boolean {
    const m = this.matcher;
    this.ambiguous = null;
    this.lastPid = null;
    this.settled = true;
    this.stale = false;
    if (this.fastProven) {
      // The usual line: its pid's session proved user and database, and they are the only
      // free text before the severity — one reading, found without trying the others.
      if (m.matchProven(line, this.provenOf) && !m.relaxed) return true;
      this.lastPid = null;
    }
    if (!m.match(line)) return false;
    if (m.relaxed) {
      this.ambiguous = `ambiguous line: the log_line_prefix ${JSON.stringify(m.prefix)} can be matched against it in too many ways (more than ${MATCH_STEP_LIMIT} steps) to find a reading without a space in the user, database or host (read as the first reading there is)`;
    }
    if (!m.textBeforeLevel) return true;
    let user: string | null = null;
    let database: string | null = null;
    let session: SessionSeed | undefined;
    if (this.tracks) {
      const pid = m.pid();
      session = pid === null ? undefined : this.sessions.get(pid);
      this.lastPid = pid;
      this.lastSession = session;
      if (session !== undefined && session.user !== null) {
        user = session.user;
        database = session.database;
        if (m.agrees(user, database)) {
          // The proven user and database leave this line one reading.
          if (m.onlyUserDatabase) return true;
        } else if (!m.matchWith(line, 0, user, database)) {
          // Not the session's user: a new backend with the same pid whose records we missed
          // (pid reuse, log_connections off, a restart): nothing of that session is its.
          user = database = null;
          this.stale = true;
          m.match(line);
        }
      }
    }
    if (line.indexOf(':  ', m.level.textStart) >= 0) this.choose(line, user, database, this.stale ? undefined : session);
    if (this.ambiguous === null && user === null && m.splitAmbiguous() && !this.provenByMessage(line)) {
      this.ambiguous = `ambiguous line: the user and database in the log_line_prefix ${JSON.stringify(m.prefix)} can be split more than one way, and no connection record of the session says which (read as the first)`;
    }
    return true;
  }

  /**
   * Reads a cut line joined with the lines after it (see linebreak.ts): true when it is one
   * record with its severity word at or after `lastLine`. Such a record changes no session.
   */
  readJoined(joined: string, lastLine: number): boolean {
    this.ambiguous = null;
    this.lastPid = null;
    this.settled = false;
    this.stale = false;
    return readJoined(this.matcher, joined, lastLine);
  }

  /** A connection authorized or disconnection record names its user and database: read the prefix with them. */
  private provenByMessage(line: string): boolean {
    const m = this.matcher;
    if (m.level.label) return false;
    const at = m.level.textStart;
    const levelAt = m.levelAt;
    let facts: { user: string; database: string | null } | null = null;
    if (line.startsWith(AUTHORIZED, at)) facts = authorizedFacts(line.slice(at));
    else if (line.startsWith(DISCONNECTION, at)) facts = disconnectionFacts(line.slice(at));
    else if (line.startsWith(AUTHENTICATED, at)) {
      // Before `connection authorized`: the identity is the role for password methods (for others it may not be: then no reading fits).
      const end = line.indexOf('" method=', at + AUTHENTICATED.length);
      if (end > 0) facts = { user: line.slice(at + AUTHENTICATED.length, end), database: null };
    }
    else if (m.level.severity === 'FATAL') {
      // A failed login quotes the name it failed for: the user, when it holds no line break (linebreak.ts).
      const user = quotedLogin(line.slice(at));
      if (user !== null && !user.includes('\n')) facts = { user, database: null };
    }
    if (facts === null) return false;
    if (m.matchWith(line, levelAt, facts.user, facts.database) && m.levelAt === levelAt) return true;
    m.matchWith(line, levelAt, null, null);
    return false;
  }

  /** The line can end its prefix in several places: take the reading the log supports best. */
  private choose(line: string, user: string | null, database: string | null, session: SessionSeed | undefined): void {
    const m = this.matcher;
    // The application name the session's connection authorized record proves (it can change: SET application_name).
    const application = session !== undefined && m.hasApplication ? session.application : null;
    let at = m.levelAt;
    let bestAt = at;
    let bestScore = this.score(line, user, session, at);
    let bestPinned = application !== null && m.applicationIs(application);
    let readings = 1;
    while (readings < MAX_READINGS && m.matchWith(line, at + 1, user, database)) {
      readings++;
      at = m.levelAt;
      const score = this.score(line, user, session, at);
      const pinned = application !== null && m.applicationIs(application);
      // On a tie: the reading with the proven application name, else the later boundary (client
      // text in the prefix comes before PostgreSQL's own severity word).
      if (score > bestScore || (score === bestScore && (pinned || !bestPinned))) {
        bestScore = score;
        bestAt = at;
        bestPinned = pinned;
      }
    }
    m.matchWith(line, bestAt, user, database);
    if (readings === 1) return;
    if (bestScore < 5) this.settled = false;
    this.ambiguous = `ambiguous line: client-chosen text in the log_line_prefix ${JSON.stringify(m.prefix)} (an application name, say) holds a severity word, so the prefix can end in ${readings} places; read as ${m.level.severity ?? m.level.label} at character ${bestAt + 1}${bestScore >= 3 && bestScore <= 4 ? ' (the pgAudit record)' : ''}`;
  }

  /**
   * 6 the `connection authorized` record of a session that is not authorized yet, naming the
   * user, database (and application name, with %a) of its own prefix; 5 exactly the
   * disconnection record of the session (its user, database, host and port, to the end of the
   * line); 4 a pgAudit record that parses; 3 the first line of a pgAudit record whose statement
   * goes on over more lines; 2 another record; 1 an extra line of the record before. (The
   * matcher holds the reading at `at`.) Only 5 and 6 may change the sessions (see settled): what
   * else looks like a connection record is read as a plain record.
   */
  private score(line: string, user: string | null, session: SessionSeed | undefined, at: number): number {
    const m = this.matcher;
    if (m.level.label) return 1;
    const textAt = m.level.textStart;
    if (session !== undefined && line.startsWith(DISCONNECTION, textAt) && isDisconnectionOf(line.slice(textAt), session)) return 5;
    if (line.startsWith(AUDIT, textAt)) {
      const message = line.slice(textAt);
      if (typeof parseAudit(message) !== 'string') return 4;
      // The first line of a record whose statement goes on over more lines: it parses once its quote is closed.
      if (typeof parseAudit(`${message}"`) !== 'string' || typeof parseAudit(`${message}",<not logged>`) !== 'string') return 3;
    }
    if (session !== undefined && session.user === null && line.startsWith(AUTHORIZED, textAt)) {
      const facts = authorizedFacts(line.slice(textAt));
      if (m.matchWith(line, at, facts.user, facts.database) && m.levelAt === at
        // PostgreSQL applies application_name after this record: its own %a is still [unknown] (or empty).
        && (!m.hasApplication || m.applicationIs('[unknown]') || m.applicationIs('') || (facts.application !== null && m.applicationIs(facts.application)))) return 6;
    }
    return 2;
  }

  /**
   * A new record was read (its prefix fields and message are in the event): fills in what its
   * session knows, and follows the session's connection records.
   */
  note(event: PgwardenEvent): void {
    if (!this.tracks) return;
    const message = event.message ?? '';
    const c0 = message.charCodeAt(0);
    const settled = this.settled;
    if (settled && ((c0 === 100 /* d */ && message.startsWith(READY)) || (c0 === 97 /* a */ && message.startsWith(REINITIALIZING)))) {
      if (this.keepsUndo) {
        const saved = [...this.sessions];
        this.undo.push(() => {
          this.sessions.clear();
          for (const [pid, session] of saved) this.sessions.set(pid, session);
        });
      }
      this.sessions.clear();
      this.lastSession = undefined;
      return;
    }
    const pid = event.pid;
    if (pid === null) return;
    if (settled && c0 === 99 /* c */ && message.startsWith(RECEIVED)) {
      // A new backend: whatever this pid was before is over.
      const before = this.sessions.get(pid);
      // Where the pid stood in the order (rare: its disconnection was missed, or a forged line), for an undo.
      let beforeAt = 0;
      if (before !== undefined && this.keepsUndo) for (const key of this.sessions.keys()) {
        if (key === pid) break;
        beforeAt++;
      }
      this.sessions.delete(pid);
      const rest = message.slice(RECEIVED.length);
      const portAt = rest.lastIndexOf(' port=');
      const session = newSession(pid, this.synthetic && event.ts !== null ? syntheticSessionId(event.ts, pid) : null, null, null, null,
        portAt >= 0 ? rest.slice(0, portAt) : rest, portAt >= 0 ? toInt(rest.slice(portAt + 6)) : null);
      this.sessions.set(pid, session);
      let evicted: SessionSeed | undefined;
      if (this.sessions.size > MAX_SESSIONS) {
        evicted = this.sessions.values().next().value!;
        this.sessions.delete(evicted.pid);
      }
      // Undone, the sessions come back in their place in the order they are forgotten in (beyond
      // MAX_SESSIONS the next eviction must forget the session it would have, as the splitter
      // does, which never followed the line): the Map is rebuilt, only when one came back.
      if (this.keepsUndo) this.undo.push(() => {
        this.sessions.delete(pid);
        if (evicted === undefined && before === undefined) return;
        const rest = [...this.sessions.values()];
        if (evicted !== undefined) rest.unshift(evicted);
        if (before !== undefined) rest.splice(Math.min(beforeAt, rest.length), 0, before);
        this.sessions.clear();
        for (const session of rest) this.sessions.set(session.pid, session);
      });
    }
    else if (this.stale || this.matcher.cut) return; // another backend, or a process outside any session (%q): fill nothing
    const session = pid === this.lastPid && c0 !== 99 ? this.lastSession : this.sessions.get(pid);
    if (session === undefined) return;
    if (settled && c0 === 99 && message.startsWith(AUTHORIZED)) {
      const facts = authorizedFacts(message);
      if (this.keepsUndo) {
        const { user, database, application } = session;
        this.undo.push(() => Object.assign(session, { user, database, application }));
      }
      session.user = facts.user;
      session.database = facts.database;
      session.application = facts.application;
    }
    if (event.session_id === null) event.session_id = session.id;
    if (event.user === null && event.database === null) {
      event.user = session.user;
      event.database = session.database;
    }
    if (event.application === null) event.application = session.application;
    if (event.client_addr === null) {
      event.client_addr = session.client_addr;
      event.client_port = session.client_port;
    }
    if (settled && c0 === 100 /* d */ && message.startsWith(DISCONNECTION) && this.sessions.delete(pid) && this.keepsUndo) this.undo.push(() => this.sessions.set(pid, session));
  }
}
