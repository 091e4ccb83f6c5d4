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

/** A compiled log_line_prefix that reads the prefix fields of a stderr line into an event. */
export class PrefixMatcher {
  readonly prefix: string;
  private readonly steps: Step[];
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private line = '';
  /** While true, a reading with a space inside a user, database or host is refused (see plausible()). */
  private strict = false;
  private readonly hasFreeText: boolean;
  /** Set by a successful match: the severity or label word after the prefix. */
  readonly level = new LevelReader();

  constructor(prefix: string) {
    this.prefix = prefix;
    this.steps = compilePrefix(prefix);
    this.starts = new Int32Array(this.steps.length);
    this.ends = new Int32Array(this.steps.length);
    this.hasFreeText = this.steps.some((s) => s.type === 'escape' && s.shape === 'text' && 'udhr'.includes(s.letter));
  }

  /**
   * Matches a line. On success sets `level` and returns true; `level.textStart` is where the
   * message text starts, and assign() copies the prefix fields into an event.
   */
  match(line: string): boolean {
    this.line = line;
    this.clearStarts();
    this.strict = this.hasFreeText;
    if (this.matchFrom(0, 0) >= 0) return true;
    if (!this.strict) return false;
    // No reading without a space in user, database or host: take the first reading there is.
    this.strict = false;
    this.clearStarts();
    return this.matchFrom(0, 0) >= 0;
  }

  /** Forgets the fields of the last line (a loop: TypedArray.fill costs more per call for a few steps). */
  private clearStarts(): void {
    const starts = this.starts;
    for (let k = 0; k < starts.length; k++) starts[k] = -1;
  }

  private matchFrom(index: number, pos: number): number {
    const steps = this.steps;
    const line = this.line;
    for (let k = index; k < steps.length; k++) {
      const step = steps[k]!;
      if (step.type === 'literal') {
        if (!line.startsWith(step.text, pos)) return -1;
        pos += step.text.length;
        continue;
      }
      if (step.type === 'q') {
        // A non-session process stops the prefix here.
        if (this.level.read(line, pos)) {
          for (let j = k + 1; j < steps.length; j++) this.starts[j] = -1;
          if (!this.strict || this.plausible()) return pos;
        }
        continue;
      }
      if (step.shape !== 'text') {
        const end = readShape(line, pos, step.shape);
        if (end < 0) return -1;
        this.starts[k] = pos;
        this.ends[k] = end;
        pos = end;
        continue;
      }
      // Free text: try each possible end, nearest first (a padded value is at least its width).
      const next = steps[k + 1];
      this.starts[k] = pos;
      const from = Math.min(pos + step.width, line.length);
      if (next === undefined) {
        for (let end = from; end < line.length; end++) {
          this.ends[k] = end;
          if (this.level.read(line, end) && (!this.strict || this.plausible())) return end;
        }
        return -1;
      }
      if (next.type === 'literal') {
        let end = line.indexOf(next.text, from);
        while (end >= 0) {
          this.ends[k] = end;
          const result = this.matchFrom(k + 1, end);
          if (result >= 0) return result;
          end = line.indexOf(next.text, end + 1);
        }
        return -1;
      }
      for (let end = from; end <= line.length; end++) {
        this.ends[k] = end;
        const result = this.matchFrom(k + 1, end);
        if (result >= 0) return result;
      }
      return -1;
    }
    return this.level.read(line, pos) && (!this.strict || this.plausible()) ? pos : -1;
  }

  /**
   * False when the last matched line put a space into the user, database or host: legal, but
   * far more often the sign of a prefix that is not the one the server used.
   */
  plausible(): boolean {
    const steps = this.steps;
    for (let k = 0; k < steps.length; k++) {
      const step = steps[k]!;
      if (step.type !== 'escape' || step.padded || this.starts[k]! < 0) continue;
      if (step.letter === 'u' || step.letter === 'd' || step.letter === 'h' || step.letter === 'r') {
        const start = this.starts[k]!;
        const end = this.ends[k]!;
        const space = this.line.indexOf(' ', start);
        if (space >= 0 && space < end) return false;
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
      let value = line.slice(start, this.ends[k]);
      if (step.padded) value = value.trim();
      switch (step.letter) {
        case 'm': event.ts = isoTimestamp(value); break;
        case 't': seconds = value; break;
        case 'n': epoch = value; break;
        case 'p': event.pid = toInt(value); break;
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
