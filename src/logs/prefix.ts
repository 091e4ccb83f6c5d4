// log_line_prefix: compiled once into steps, then matched against each stderr line by hand
// (no regular expression, no per-line allocation beyond the field values).
//
// Every escape PostgreSQL documents is understood: %a %u %d %r %h %L %b %p %P %t %m %n %i %e
// %c %l %s %v %x %q %Q %%, with padding (%-10u, %5p). Values of fixed shape (times, numbers,
// session ids) are read by shape; free text (user, database, application, host, backend type,
// command tag) runs to the next literal part of the prefix, trying later occurrences when the
// rest of the line does not match — so an application_name with spaces or with the prefix's
// own separators still parses. The prefix must be followed by a severity word ("LOG:  "), which
// is what makes a line a record. At %q, lines of non-session processes end the prefix.
import type { PgwardenEvent } from '../core/event.ts';
import { PgwardenError } from '../core/errors.ts';
import { isoFromEpoch, isoTimestamp } from './timestamp.ts';
import { LevelReader, UNKNOWN_WORDS } from './severity.ts';
import { splitHostPort, toInt } from './record.ts';

type Shape = 'timestamp' | 'epoch' | 'digits' | 'digits?' | 'signed' | 'session' | 'sqlstate' | 'vxid' | 'text';

interface LiteralStep { type: 'literal'; text: string }
interface EscapeStep { type: 'escape'; letter: string; shape: Shape; padded: boolean; width: number }
interface StopStep { type: 'q' }
type Step = LiteralStep | EscapeStep | StopStep;

const SHAPES: Record<string, Shape> = {
  a: 'text', u: 'text', d: 'text', r: 'text', h: 'text', L: 'text', b: 'text', i: 'text',
  p: 'digits', P: 'digits?', l: 'digits', x: 'digits', Q: 'signed', e: 'sqlstate', c: 'session', v: 'vxid',
  t: 'timestamp', m: 'timestamp', s: 'timestamp', n: 'epoch',
};

export const PREFIX_ESCAPES = Object.keys(SHAPES).concat(['q', '%']);

/** Compiles a log_line_prefix; throws PGW_ERR_INVALID_VALUE for a prefix PostgreSQL would cut short. */
export function compilePrefix(prefix: string): Step[] {
  const steps: Step[] = [];
  let literal = '';
  const flush = () => {
    if (literal) steps.push({ type: 'literal', text: literal });
    literal = '';
  };
  for (let i = 0; i < prefix.length; i++) {
    const ch = prefix[i]!;
    if (ch !== '%') { literal += ch; continue; }
    i++;
    if (i >= prefix.length) throw badPrefix(prefix, 'ends with a lone %');
    if (prefix[i] === '%') { literal += '%'; continue; }
    let padded = false;
    let width = 0;
    if (prefix[i] === '-' || (prefix[i]! >= '0' && prefix[i]! <= '9')) {
      padded = true;
      if (prefix[i] === '-') i++;
      while (i < prefix.length && prefix[i]! >= '0' && prefix[i]! <= '9') width = width * 10 + Number(prefix[i++]);
      if (i >= prefix.length) throw badPrefix(prefix, 'ends inside a padding (%-10 needs a letter after it)');
    }
    const letter = prefix[i]!;
    if (letter === 'q') { flush(); steps.push({ type: 'q' }); continue; }
    const shape = SHAPES[letter];
    // PostgreSQL prints nothing for an unknown escape, but here it is far likelier a typo.
    if (!shape) throw badPrefix(prefix, `has %${letter}, which is not a log_line_prefix escape (PostgreSQL prints nothing for it): remove it, or see the escapes in the PostgreSQL documentation`);
    flush();
    steps.push({ type: 'escape', letter, shape: padded && width > 0 ? 'text' : shape, padded: padded && width > 0, width });
  }
  flush();
  return steps;
}

function badPrefix(prefix: string, why: string): PgwardenError {
  return new PgwardenError('PGW_ERR_INVALID_VALUE', `--prefix ${JSON.stringify(prefix)} ${why}`);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/** Reads a value of a fixed shape at pos; returns its end, or -1. */
function readShape(line: string, pos: number, shape: Shape): number {
  const n = line.length;
  let i = pos;
  switch (shape) {
    case 'timestamp': {
      // YYYY-MM-DD HH:MM:SS[.mmm] ZONE
      if (pos + 21 > n || line.charCodeAt(pos + 4) !== 45 || line.charCodeAt(pos + 10) !== 32) return -1;
      i = pos + 19;
      if (line.charCodeAt(i) === 46) i += 4;
      if (line.charCodeAt(i) !== 32) return -1;
      i++;
      // The zone: an abbreviation or a numeric offset (letters, digits, + and -).
      const zoneStart = i;
      for (; i < n; i++) {
        const c = line.charCodeAt(i);
        if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || isDigit(c) || c === 43 || c === 45)) break;
      }
      return i > zoneStart ? i : -1;
    }
    case 'epoch':
      while (i < n && isDigit(line.charCodeAt(i))) i++;
      if (i === pos || line.charCodeAt(i) !== 46) return -1;
      i++;
      while (i < n && isDigit(line.charCodeAt(i))) i++;
      return i;
    case 'digits':
      while (i < n && isDigit(line.charCodeAt(i))) i++;
      return i > pos ? i : -1;
    case 'digits?':
      while (i < n && isDigit(line.charCodeAt(i))) i++;
      return i;
    case 'signed':
      if (line.charCodeAt(i) === 45) i++;
      while (i < n && isDigit(line.charCodeAt(i))) i++;
      return i > pos && line.charCodeAt(i - 1) !== 45 ? i : -1;
    case 'session':
      while (i < n && isHex(line.charCodeAt(i))) i++;
      if (i === pos || line.charCodeAt(i) !== 46) return -1;
      i++;
      {
        const second = i;
        while (i < n && isHex(line.charCodeAt(i))) i++;
        return i > second ? i : -1;
      }
    case 'sqlstate':
      if (pos + 5 > n) return -1;
      for (; i < pos + 5; i++) {
        const c = line.charCodeAt(i);
        if (!(isDigit(c) || (c >= 65 && c <= 90))) return -1;
      }
      return i;
    case 'vxid':
      // "3/42", or empty outside a transaction-capable process
      while (i < n && (isDigit(line.charCodeAt(i)) || line.charCodeAt(i) === 47 || line.charCodeAt(i) === 45)) i++;
      return i;
    case 'text':
      return -1; // handled by the matcher
  }
}

/** NAMEDATALEN - 1: the longest user or database name PostgreSQL keeps from a startup packet (see linebreak.ts). */
export const NAME_BYTES = 63;

/** How many steps one match may take before giving up (a prefix with adjacent free-text fields backtracks). */
export const MATCH_STEP_LIMIT = 20_000;

/** Characters that, inside a user, database or host name, mean a recognised prefix is likely wrong (see detectPrefix). */
const SEPARATORS: Record<string, string> = { u: '/[]()=,: ', d: '/@[]()=,: ', h: '/@[]()=, ', r: '/@[]=, ' };

/** A session's user and database as its connection records proved them. */
export interface ProvenNames { user: string | null; database: string | null }

/** A compiled log_line_prefix that reads the prefix fields of a stderr line into an event. */
export class PrefixMatcher {
  readonly prefix: string;
  private readonly steps: Step[];
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private line = '';
  /** While true, a reading with a space inside a user, database or host is refused (see plausible()). */
  private strict = false;
  /** While true (matchJoined), a reading whose user or database is longer than PostgreSQL keeps a name is refused. */
  private fitNames = false;
  private readonly hasFreeText: boolean;
  /** Set by a successful match: the severity or label word after the prefix. */
  readonly level = new LevelReader();
  /** Where the severity word of the last match starts. */
  levelAt = 0;
  /** The severity word must start at or after this (to read the other ways a line can be read). */
  private minLevel = 0;
  /** Values the user (%u) and database (%d) must have, when the log itself proved them (null: any). */
  private expectUser: string | null = null;
  private expectDatabase: string | null = null;
  /** Steps taken by the last match (bounded by MATCH_STEP_LIMIT). */
  stepsTaken = 0;
  /** True when the last match gave up after MATCH_STEP_LIMIT steps. */
  gaveUp = false;
  /** True when the last match gave up on the plausible readings and took the first reading there is (a space in a user, database or host). */
  relaxed = false;
  /** True when the last match ended the prefix at %q (a non-session process: no user, database, application). */
  cut = false;
  /** Detection mode: a name holding one of SEPARATORS is refused too. */
  detecting = false;
  /** True when a free-text field (%a %u %d %h %r %L %b %i) comes before the severity: a client may move the boundary. */
  readonly textBeforeLevel: boolean;
  /** True when a line of this prefix can start with a space (a padded first field, or a literal space). */
  readonly mayStartWithSpace: boolean;
  private readonly pidStep: number;
  private readonly userStep: number;
  private readonly databaseStep: number;
  private readonly applicationStep: number;
  /** True when the only free text before the severity is an unpadded %u and %d: with both proven, a line has one reading. */
  readonly onlyUserDatabase: boolean;
  /** Steps plausible() must look at: the ones the strict reading does not already keep free of spaces. */
  private readonly plausibleSteps: number[];
  /** matchProven(): what the log proved of the pid just read (its session's user and database), or null. */
  private provenOf: ((pid: number) => ProvenNames | null) | null = null;
  /** True when the %p step comes before %u and %d: matchProven() can know the names before it reads them. */
  readonly pidFirst: boolean;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.steps = compilePrefix(prefix);
    this.starts = new Int32Array(this.steps.length);
    this.ends = new Int32Array(this.steps.length);
    this.hasFreeText = this.steps.some((s) => s.type === 'escape' && s.shape === 'text' && 'udhr'.includes(s.letter));
    this.textBeforeLevel = this.steps.some((s) => s.type === 'escape' && s.shape === 'text');
    const first = this.steps[0];
    this.mayStartWithSpace = first === undefined || (first.type === 'literal' && first.text.charCodeAt(0) === 32)
      || (first.type === 'escape' && (first.padded || first.shape === 'text'));
    this.pidStep = this.steps.findIndex((s) => s.type === 'escape' && s.letter === 'p');
    this.userStep = this.steps.findIndex((s) => s.type === 'escape' && s.letter === 'u');
    this.databaseStep = this.steps.findIndex((s) => s.type === 'escape' && s.letter === 'd');
    this.applicationStep = this.steps.findIndex((s) => s.type === 'escape' && s.letter === 'a' && !s.padded);
    this.pidFirst = this.pidStep >= 0 && this.pidStep < this.userStep && this.pidStep < this.databaseStep;
    this.onlyUserDatabase = this.steps.every((s) => s.type !== 'escape' || s.shape !== 'text' || ((s.letter === 'u' || s.letter === 'd') && !s.padded));
    this.headSteps = this.steps.findIndex((s) => s.type === 'escape' && s.shape === 'text');
    let budget = 0;
    if (this.userStep >= 0 || this.databaseStep >= 0) {
      for (let k = Math.max(this.headSteps, 0); k < this.steps.length; k++) {
        const s = this.steps[k]!;
        budget += s.type === 'literal' ? s.text.length : s.type === 'q' ? 0 : s.shape === 'text' ? Math.max(NAME_BYTES, s.width) : 40;
      }
    }
    this.joinBudget = budget;
    this.plausibleSteps = [];
    this.steps.forEach((s, k) => {
      if (s.type !== 'escape' || s.padded || !'udhr'.includes(s.letter)) return;
      if ((s.letter === 'u' || s.letter === 'd') && this.steps[k + 1]?.type === 'literal') return; // pruned at its first space in matchFrom
      this.plausibleSteps.push(k);
    });
  }

  /**
   * Characters a line broken inside %u or %d (names a client sent, with line breaks; see
   * linebreak.ts) can hold between the end of headEnd() and the start of the line that goes on
   * with the prefix: each free-text field at most NAME_BYTES (wider when padded), the literals,
   * and room for a fixed-shape field. 0 when the prefix has no %u or %d before the severity.
   */
  readonly joinBudget: number;
  /** Index of the first free-text step (where headEnd() stops). */
  private readonly headSteps: number;

  /** True when the prefix has the escape (letter without %). */
  has(letter: string): boolean {
    return this.steps.some((s) => s.type === 'escape' && s.letter === letter);
  }

  /**
   * Where the first free-text field would start in `line`: the end of the fixed fields and
   * literals before it (%m, [%p] …), or -1 when the line does not start with them.
   */
  headEnd(line: string): number {
    if (this.headSteps < 0) return -1;
    let pos = 0;
    for (let k = 0; k < this.headSteps; k++) {
      const step = this.steps[k]!;
      if (step.type === 'q') continue;
      if (step.type === 'literal') {
        if (!line.startsWith(step.text, pos)) return -1;
        pos += step.text.length;
        continue;
      }
      const end = readShape(line, pos, step.shape);
      if (end < 0) return -1;
      pos = end;
    }
    return pos;
  }

  /**
   * Matches a line. On success sets `level` and returns true; `level.textStart` is where the
   * message text starts, and assign() copies the prefix fields into an event.
   */
  match(line: string): boolean {
    this.minLevel = 0;
    this.expectUser = null;
    this.expectDatabase = null;
    return this.run(line);
  }

  /**
   * Matches a line with the severity word at or after `minLevel`, and the user and database
   * equal to the given values where not null (what the session's connection records proved).
   */
  matchWith(line: string, minLevel: number, user: string | null, database: string | null): boolean {
    this.minLevel = minLevel;
    this.expectUser = this.userStep >= 0 ? user : null;
    this.expectDatabase = this.databaseStep >= 0 ? database : null;
    return this.run(line);
  }

  /**
   * Matches lines joined over a line break inside %u or %d (linebreak.ts) with the severity word
   * at or after `minLevel`: only readings whose user and database each fit the NAME_BYTES a
   * startup packet's name is cut to (a longer one is not a name PostgreSQL wrote).
   */
  matchJoined(line: string, minLevel: number): boolean {
    this.fitNames = true;
    try {
      return this.matchWith(line, minLevel, null, null);
    } finally {
      this.fitNames = false;
    }
  }

  /** True when the last reading's user and database (where read) are no longer than a name can be. */
  private namesFit(): boolean {
    for (const k of [this.userStep, this.databaseStep]) {
      if (k < 0 || this.starts[k]! < 0) continue;
      const step = this.steps[k] as EscapeStep;
      if (this.ends[k]! - this.starts[k]! > Math.max(NAME_BYTES, step.width)) return false;
    }
    return true;
  }

  /**
   * Matches a line whose user and database the log may have proved for its pid: `provenOf` is
   * asked once %p is read, and the names it gives are the only reading of %u and %d (as
   * matchWith). False when the line does not match with them (or at all); then read it with
   * match(). For prefixes with %p before %u and %d (pidFirst).
   */
  matchProven(line: string, provenOf: (pid: number) => ProvenNames | null): boolean {
    this.minLevel = 0;
    this.expectUser = null;
    this.expectDatabase = null;
    this.provenOf = provenOf;
    try {
      return this.run(line);
    } finally {
      this.provenOf = null;
    }
  }

  private run(line: string): boolean {
    this.line = line;
    this.stepsTaken = 0;
    this.gaveUp = false;
    this.relaxed = false;
    this.cut = false;
    this.clearStarts();
    this.strict = this.hasFreeText;
    if (this.matchFrom(0, 0) >= 0) return true;
    if (!this.strict) return false;
    // No reading without a space in user, database or host (or too many ways to look for one):
    // take the first reading there is.
    this.relaxed = this.gaveUp;
    this.strict = false;
    this.stepsTaken = 0;
    this.gaveUp = false;
    this.clearStarts();
    return this.matchFrom(0, 0) >= 0;
  }

  /** True when the last match read exactly this user and database (where the prefix has them and they are not null). */
  agrees(user: string | null, database: string | null): boolean {
    return this.fieldIs(this.userStep, user) && this.fieldIs(this.databaseStep, database);
  }

  /** True when the last match read exactly this application (%a), where the prefix has it. */
  applicationIs(application: string): boolean {
    return this.applicationStep >= 0 && this.fieldIs(this.applicationStep, application);
  }

  /** True when the prefix has an unpadded %a. */
  get hasApplication(): boolean {
    return this.applicationStep >= 0;
  }

  private fieldIs(k: number, value: string | null): boolean {
    if (k < 0 || value === null) return true;
    const start = this.starts[k]!;
    const length = value.length;
    if (start < 0 || this.ends[k]! - start !== length) return false;
    // By hand: names are short, and startsWith at a position costs more per call on a sliced line.
    const line = this.line;
    for (let i = 0; i < length; i++) if (line.charCodeAt(start + i) !== value.charCodeAt(i)) return false;
    return true;
  }

  /** The user (%u) the last match read, or null where the prefix has none or the line cut it (%q). */
  user(): string | null {
    return this.field(this.userStep);
  }

  /** The database (%d) the last match read, or null (as user()). */
  database(): string | null {
    return this.field(this.databaseStep);
  }

  private field(k: number): string | null {
    if (k < 0 || this.starts[k]! < 0) return null;
    return this.line.slice(this.starts[k], this.ends[k]);
  }

  /** The pid (%p) of the last matched line, or null. */
  pid(): number | null {
    const k = this.pidStep;
    const start = k < 0 ? -1 : this.starts[k]!;
    return start < 0 ? null : this.digitsAt(start, this.ends[k]!);
  }

  /** The number written in line[start, end) (padding spaces around it allowed), or null. */
  private digitsAt(start: number, end: number): number | null {
    const line = this.line;
    while (start < end && line.charCodeAt(start) === 32) start++;
    while (end > start && line.charCodeAt(end - 1) === 32) end--;
    if (end - start > 15 || end === start) return null;
    let n = 0;
    for (let i = start; i < end; i++) {
      const c = line.charCodeAt(i);
      if (!isDigit(c)) return null;
      n = n * 10 + (c - 48);
    }
    return n;
  }

  /**
   * True when the last match's user and database could be split another way at the same
   * boundary: the database (after %u@) holds the separator that ends the user, say
   * `alice@example.com@postgres`. Only what the log proves (the session's connection record)
   * tells the readings apart.
   */
  splitAmbiguous(): boolean {
    const steps = this.steps;
    for (let k = 0; k + 2 < steps.length; k++) {
      const step = steps[k]!;
      const literal = steps[k + 1]!;
      const next = steps[k + 2]!;
      if (step.type !== 'escape' || step.shape !== 'text' || literal.type !== 'literal' || next.type !== 'escape' || next.shape !== 'text') continue;
      // A user or database after a separator that it holds: the field before could have ended at it
      // (a name before an application, host or port is read shortest, which is right unless names hold separators).
      if ((next.letter !== 'u' && next.letter !== 'd') || next.padded || this.starts[k + 2]! < 0) continue;
      const at = this.line.indexOf(literal.text, this.starts[k + 2]);
      if (at >= 0 && at + literal.text.length <= this.ends[k + 2]!) return true;
    }
    return false;
  }

  /** Forgets the fields of the last line (a loop: TypedArray.fill costs more per call for a few steps). */
  private clearStarts(): void {
    const starts = this.starts;
    for (let k = 0; k < starts.length; k++) starts[k] = -1;
  }

  /** The severity word at pos ends the prefix (and the reading is acceptable). */
  private levelHere(pos: number): boolean {
    if (pos < this.minLevel || !this.level.read(this.line, pos)) return false;
    if (this.fitNames && !this.namesFit()) return false;
    if (this.strict && (this.detecting || this.plausibleSteps.length > 0) && !this.plausible()) return false;
    this.levelAt = pos;
    return true;
  }

  private matchFrom(index: number, pos: number): number {
    const steps = this.steps;
    const line = this.line;
    for (let k = index; k < steps.length; k++) {
      if (++this.stepsTaken > MATCH_STEP_LIMIT) {
        this.gaveUp = true;
        return -1;
      }
      const step = steps[k]!;
      if (step.type === 'literal') {
        if (!line.startsWith(step.text, pos)) return -1;
        pos += step.text.length;
        continue;
      }
      if (step.type === 'q') {
        // A non-session process stops the prefix here.
        if (this.levelHere(pos)) {
          for (let j = k + 1; j < steps.length; j++) this.starts[j] = -1;
          this.cut = true;
          return pos;
        }
        continue;
      }
      if (step.shape !== 'text') {
        const end = readShape(line, pos, step.shape);
        if (end < 0) return -1;
        this.starts[k] = pos;
        this.ends[k] = end;
        if (k === this.pidStep && this.provenOf !== null) {
          const pid = this.digitsAt(pos, end);
          const proven = pid === null ? null : this.provenOf(pid);
          if (proven === null) return -1;
          this.expectUser = proven.user;
          this.expectDatabase = proven.database;
        }
        pos = end;
        continue;
      }
      this.starts[k] = pos;
      // A value the log proved: only that reading.
      const expected = k === this.userStep ? this.expectUser : k === this.databaseStep ? this.expectDatabase : null;
      if (expected !== null && !step.padded) {
        if (!line.startsWith(expected, pos)) return -1;
        this.ends[k] = pos + expected.length;
        if (k + 1 === steps.length) return this.levelHere(pos + expected.length) ? pos + expected.length : -1;
        return this.matchFrom(k + 1, pos + expected.length);
      }
      // Free text: try each possible end, nearest first (a padded value is at least its width).
      const next = steps[k + 1];
      const from = Math.min(pos + step.width, line.length);
      if (next === undefined) {
        for (let end = Math.max(from, this.minLevel); end < line.length; end++) {
          if (++this.stepsTaken > MATCH_STEP_LIMIT) {
            this.gaveUp = true;
            return -1;
          }
          this.ends[k] = end;
          if (this.levelHere(end)) return end;
        }
        return -1;
      }
      if (next.type === 'literal') {
        let end = line.indexOf(next.text, from);
        // A user, database or host read strictly ends before its first space: later ends only hold more.
        let limit = -1;
        if (this.strict && !step.padded && (step.letter === 'u' || step.letter === 'd' || step.letter === 'h' || step.letter === 'r')) {
          limit = line.indexOf(' ', pos);
          if (limit < 0) limit = line.length;
        }
        while (end >= 0 && (limit < 0 || end <= limit)) {
          this.ends[k] = end;
          const result = this.matchFrom(k + 1, end);
          if (result >= 0 || this.gaveUp) return result;
          end = line.indexOf(next.text, end + 1);
        }
        return -1;
      }
      for (let end = from; end <= line.length; end++) {
        this.ends[k] = end;
        const result = this.matchFrom(k + 1, end);
        if (result >= 0 || this.gaveUp) return result;
      }
      return -1;
    }
    return this.levelHere(pos) ? pos : -1;
  }

  /**
   * False when the last matched line put a space into the user, database or host: legal, but
   * far more often the sign of a prefix that is not the one the server used.
   */
  plausible(): boolean {
    const steps = this.steps;
    const count = this.detecting ? steps.length : this.plausibleSteps.length;
    for (let j = 0; j < count; j++) {
      const k = this.detecting ? j : this.plausibleSteps[j]!;
      const step = steps[k]!;
      if (step.type !== 'escape' || step.padded || this.starts[k]! < 0) continue;
      if (step.letter === 'u' || step.letter === 'd' || step.letter === 'h' || step.letter === 'r') {
        const start = this.starts[k]!;
        const end = this.ends[k]!;
        const space = this.line.indexOf(' ', start);
        if (space >= 0 && space < end) return false;
        if (this.detecting) {
          const separators = SEPARATORS[step.letter]!;
          for (let i = start; i < end; i++) {
            const c = this.line[i]!;
            if (separators.includes(c) && !(c === '[' || c === ']' ? this.line.startsWith('[local]', start) || UNKNOWN_WORDS.has(this.line.slice(start, end)) : false)) return false;
          }
        }
        if (step.letter === 'h' || step.letter === 'r') {
          // A host has no parentheses; %r may end in "(port)".
          const open = this.line.indexOf('(', start);
          if (open >= 0 && open < end) {
            if (step.letter === 'h' || this.line.charCodeAt(end - 1) !== 41) return false;
            for (let i = open + 1; i < end - 1; i++) if (!isDigit(this.line.charCodeAt(i))) return false;
          } else {
            const close = this.line.indexOf(')', start);
            if (close >= 0 && close < end) return false;
          }
        }
      }
    }
    return true;
  }

  /** Copies the fields of the last matched line into an event. */
  assign(event: PgwardenEvent): void {
    const steps = this.steps;
    const line = this.line;
    let epoch: string | null = null;
    let seconds: string | null = null;
    for (let k = 0; k < steps.length; k++) {
      const step = steps[k]!;
      if (step.type !== 'escape') continue;
      const start = this.starts[k]!;
      if (start < 0) continue;
      if (step.letter === 'p') {
        event.pid = this.digitsAt(start, this.ends[k]!);
        continue;
      }
      let value = line.slice(start, this.ends[k]);
      if (step.padded) value = value.trim();
      switch (step.letter) {
        case 'm': event.ts = isoTimestamp(value); break;
        case 't': seconds = value; break;
        case 'n': epoch = value; break;
        case 'l': event.session_line = toInt(value); break;
        case 'c': event.session_id = value || null; break;
        case 'u': event.user = known(value); break;
        case 'd': event.database = known(value); break;
        case 'a': event.application = known(value); break;
        case 'e': event.sqlstate = value && value !== '00000' ? value : null; break;
        case 'b': event.backend_type = value || null; break;
        case 'h':
          if (value) event.client_addr = value;
          break;
        case 'r':
          if (value) {
            const [host, port] = splitHostPort(value);
            event.client_addr = host;
            event.client_port = port;
          }
          break;
        default: break;
      }
    }
    if (event.ts === null && epoch !== null) event.ts = isoFromEpoch(epoch);
    if (event.ts === null && seconds !== null) event.ts = isoTimestamp(seconds);
  }
}

function known(value: string): string | null {
  // Every unknown-word spelling is bracketed: only those are looked up.
  return value === '' || (value.charCodeAt(0) === 91 && UNKNOWN_WORDS.has(value)) ? null : value;
}
