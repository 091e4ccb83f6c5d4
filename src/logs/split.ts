// Cuts a log into pieces that each start with a record, so that the pieces can be parsed on
// their own (on several threads) and give exactly the events of one parse of the whole input.
// Pure: bytes in, pieces out. Each piece says where it starts (byte offset and line number),
// so the events keep the positions they would have had.
//
// Where a record may start:
// - stderr: a line that does not start with a TAB (a continuation) and reads as the prefix
//   plus a severity, not a DETAIL/HINT/STATEMENT/… label (those belong to the record before);
// - csvlog: where CsvlogParser's reading of rows from the start of the input puts one;
// - jsonlog and events (pgwarden's own JSON lines): any newline (JSON escapes newlines inside a record);
// - cnpg, azure, pgbouncer: any newline (a record is one line);
// - the other formats are not cut (see lastRecordStart).
//
// A stderr piece also carries the sessions open where it starts (TextStart.sessions): the
// splitter follows the record lines that change them (see sessions.ts) as the parser would.
import { isAscii } from 'node:buffer';
import type { LogFormat } from './formats.ts';
import { isCutLine, mayBeTail, readJoined, tailJoin, withinBudget } from './linebreak.ts';
import { PrefixMatcher } from './prefix.ts';
import { newEvent } from './record.ts';
import { RESTART_MARK, SESSION_MARK, StderrReader } from './sessions.ts';
import type { TextStart } from './text-input.ts';

export interface Piece {
  bytes: Buffer;
  start: TextStart;
}

const NL = 10;
const TAB = 9;
const QUOTE = 34;
const SPACE = 32;

/** Where the line starting at `start` ends (its newline, or the end of the bytes). */
function lineEndAt(bytes: Buffer, start: number): number {
  const end = bytes.indexOf(NL, start);
  return end < 0 ? bytes.length : end;
}

/** The line's text as StderrParser reads it (without a CR before the newline). */
function lineText(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('utf8', start, end > start && bytes[end - 1] === 13 ? end - 1 : end);
}

function countNewlines(bytes: Buffer, from: number, to: number): number {
  let count = 0;
  for (let i = bytes.indexOf(NL, from); i >= 0 && i < to; i = bytes.indexOf(NL, i + 1)) count++;
  return count;
}

export class RecordSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly matcher: PrefixMatcher | null;
  /** Follows the sessions (stderr with %p), for each piece's start. */
  private readonly tracker: StderrReader | null;
  private position = 0;
  private line = 1;

  /**
   * `pieceBytes`: how much to gather before cutting; a record longer than that makes a longer
   * piece. `followSessions`: give each stderr piece the sessions open where it starts (pieces
   * parsed side by side need it; pieces parsed in turn can hand them on, see LogParser.sessions).
   */
  constructor(private readonly format: LogFormat, prefix: string | null, private readonly pieceBytes: number, followSessions = true) {
    this.matcher = format === 'stderr' ? new PrefixMatcher(prefix ?? '') : null;
    const tracker = format === 'stderr' && followSessions ? new StderrReader(prefix ?? '') : null;
    this.tracker = tracker?.tracks ? tracker : null;
  }

  /** Adds bytes; returns a piece when enough whole records have gathered, else null. */
  push(chunk: Buffer): Piece | null {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.pieceBytes) return null;
    const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const cut = this.lastRecordStart(bytes);
    if (cut <= 0) {
      this.pending = [bytes];
      return null;
    }
    const rest = bytes.subarray(cut);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return this.take(bytes.subarray(0, cut));
  }

  /** The input has ended: the rest, if any, as the last piece. */
  end(): Piece | null {
    if (this.pendingBytes === 0) return null;
    const bytes = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return this.take(bytes);
  }

  private take(bytes: Buffer): Piece {
    const start: TextStart = { position: this.position, line: this.line };
    if (this.tracker) {
      start.sessions = this.tracker.snapshot();
      this.follow(bytes);
    }
    const piece = { bytes, start };
    this.position += bytes.length;
    this.line += countNewlines(bytes, 0, bytes.length);
    return piece;
  }

  /** Reads the record lines of a piece that may change the sessions, as StderrParser reads them. */
  private follow(bytes: Buffer): void {
    const tracker = this.tracker!;
    const mayStartWithSpace = tracker.matcher.mayStartWithSpace;
    let lineEnd = -1;
    let session = bytes.indexOf(SESSION_MARK);
    let restart = bytes.indexOf(RESTART_MARK);
    while (session >= 0 || restart >= 0) {
      const hit = restart < 0 || (session >= 0 && session < restart) ? session : restart;
      if (hit === session) session = bytes.indexOf(SESSION_MARK, hit + 1);
      else restart = bytes.indexOf(RESTART_MARK, hit + 1);
      if (hit <= lineEnd) continue;
      let lineStart = bytes.lastIndexOf(NL, hit) + 1;
      while (bytes[lineStart] === 0) lineStart++; // NUL bytes before a record (see StderrParser)
      lineEnd = bytes.indexOf(NL, hit);
      if (lineEnd < 0) lineEnd = bytes.length;
      const first = bytes[lineStart];
      if (first === TAB || (first === SPACE && !mayStartWithSpace)) continue;
      if (this.swallowed(bytes, lineStart) || this.tailJoinsOver(bytes, lineStart, false)) continue;
      let end = lineEnd;
      if (end > lineStart && bytes[end - 1] === CR) end--;
      const text = bytes.toString('utf8', lineStart, end);
      if (!tracker.read(text) || tracker.matcher.level.label) continue;
      const event = newEvent(null, '', 0, 0);
      tracker.matcher.assign(event);
      event.message = text.slice(tracker.matcher.level.textStart);
      tracker.note(event);
    }
  }

  /**
   * True when a piece may start at this line: it reads as a record (not an extra line) one way
   * only — a line that client text lets read another way may be an extra line of the record
   * before, which only the session's proven names (not known here) tell — and no cut line
   * (linebreak.ts) lies within the names' budget before it, so no record joins over the cut.
   */
  private safeStart(bytes: Buffer, lineStart: number, lineEnd: number): boolean {
    const matcher = this.matcher!;
    const text = lineText(bytes, lineStart, lineEnd);
    if (!matcher.match(text) || matcher.level.label) return false;
    if (matcher.textBeforeLevel && matcher.matchWith(text, matcher.levelAt + 1, null, null)) return false;
    return this.cutLinesBefore(bytes, lineStart).length === 0 && !this.tailJoinsOver(bytes, lineStart, true);
  }

  /**
   * True when a tail line after the line at `lineStart` (linebreak.ts) joins back over it: the
   * parser then reads the lines from the record's first one to the tail as one record, and
   * rewinds what they did. A tail lies within the names' budget after the line (at up to 3
   * bytes a character); `open`: the bytes may go on after these (a piece may not start where a
   * tail could still come), else they end at a cut (no join reaches over one).
   */
  private tailJoinsOver(bytes: Buffer, lineStart: number, open: boolean): boolean {
    const matcher = this.matcher!;
    if (matcher.joinBudget === 0) return false;
    const after = lineEndAt(bytes, lineStart) + 1;
    // The budget in characters: as many bytes where the text is ASCII, else up to 3 bytes each.
    const wide = after + 3 * matcher.joinBudget;
    const reach = isAscii(bytes.subarray(after, Math.min(wide, bytes.length))) ? after + matcher.joinBudget : wide;
    for (let start = after; start <= reach; ) {
      if (start >= bytes.length) return open;
      const end = bytes.indexOf(NL, start);
      if (end < 0) return open;
      const c = bytes[start];
      if (c !== TAB && c !== 0 && end > start) {
        const text = lineText(bytes, start, end);
        // As StderrParser: a line starting with a space is a tail or a continuation; any other is one if it is not a record.
        if (mayBeTail(text) && ((c === SPACE && !matcher.mayStartWithSpace) || !matcher.match(text)) && !this.swallowed(bytes, start)) {
          const found = this.joinBefore(bytes, start, text);
          if (found !== null && found <= lineStart) return true;
        }
      }
      start = end + 1;
    }
    return false;
  }

  /** Where the record a tail line (at `tailStart`) joins back to starts (as tailJoin finds it), or null. */
  private joinBefore(bytes: Buffer, tailStart: number, tail: string): number | null {
    const matcher = this.matcher!;
    const window = this.joinWindow();
    const starts: number[] = [];
    const lines: string[] = [];
    let end = tailStart - 1;
    while (end > 0) {
      const start = bytes.lastIndexOf(NL, end - 1) + 1;
      if (tailStart - start > window) break;
      starts.unshift(start);
      lines.unshift(lineText(bytes, start, end));
      if (start === 0) break;
      end = start - 1;
    }
    // A record may start at a line read as one (as StderrParser reads it), not inside a cut line's join.
    const isStart = (i: number): boolean => {
      const c = bytes[starts[i]!];
      const text = lines[i]!;
      return text.length > 0 && c !== TAB && c !== 0 && (c !== SPACE || matcher.mayStartWithSpace) && matcher.match(text) && !this.swallowed(bytes, starts[i]!);
    };
    const found = tailJoin(matcher, lines, isStart, tail, (joined, lastLine) => readJoined(matcher, joined, lastLine));
    return found === null ? null : starts[found.start]!;
  }

  /** Bytes before a line within which a cut line may join over it (the budget in characters, at up to 3 bytes each, and the head). */
  private joinWindow(): number {
    return this.matcher!.joinBudget > 0 ? 3 * (this.matcher!.joinBudget + 256) : 0;
  }

  /**
   * Starts of the cut lines (linebreak.ts) within joinWindow() before the line at `lineStart`,
   * earliest first. `joining`: only those that can join a line after them, whose own text after
   * the head is within the names' budget (withinBudget of the next line): the others are skipped
   * before the dear part, matching the line as a record, which most lines are.
   */
  private cutLinesBefore(bytes: Buffer, lineStart: number, joining = false): number[] {
    const window = this.joinWindow();
    const found: number[] = [];
    if (window === 0) return found;
    const matcher = this.matcher!;
    let end = lineStart - 1;
    while (end > 0) {
      const start = bytes.lastIndexOf(NL, end - 1) + 1;
      if (lineStart - start > window) break;
      const c = bytes[start];
      if (c !== TAB && c !== SPACE) {
        const text = lineText(bytes, start, end);
        if (isCutLine(matcher, text) && (!joining || withinBudget(matcher, text, text.length + 1)) && !matcher.match(text)) found.unshift(start);
      }
      if (start === 0) break;
      end = start - 1;
    }
    return found;
  }

  /**
   * True when the line at `lineStart` lies inside a record that a cut line before it joins
   * (as StderrParser joins them): then it is client text, not a record.
   */
  private swallowed(bytes: Buffer, lineStart: number): boolean {
    const cuts = this.cutLinesBefore(bytes, lineStart, true);
    if (cuts.length === 0) return false;
    const matcher = this.matcher!;
    let free = 0;
    for (const cut of cuts) {
      if (cut < free) continue;
      const cutEnd = lineEndAt(bytes, cut);
      const cutText = lineText(bytes, cut, cutEnd);
      let joined = cutText;
      let next = cutEnd + 1;
      while (next < bytes.length) {
        const lastLine = joined.length + 1;
        if (!withinBudget(matcher, cutText, lastLine)) break;
        const end = lineEndAt(bytes, next);
        joined = `${joined}\n${lineText(bytes, next, end)}`;
        if (readJoined(matcher, joined, lastLine)) {
          if (lineStart <= next) return true;
          free = end + 1;
          break;
        }
        next = end + 1;
      }
    }
    return false;
  }

  /** The offset of the last place in `bytes` where a record starts (0 or -1: none but the first). */
  private lastRecordStart(bytes: Buffer): number {
    switch (this.format) {
      case 'jsonlog':
      case 'events': return bytes.lastIndexOf(NL) + 1;
      case 'csvlog': return lastCsvRecordStart(bytes);
      case 'stderr': return this.lastStderrRecordStart(bytes);
      // One record per line, each read on its own.
      case 'cnpg': case 'azure': case 'pgbouncer': return bytes.lastIndexOf(NL) + 1;
      // A record's parts may be far apart (syslog chunks of several processes, a Cloud SQL
      // entry's DETAIL in the next entry): not cut, read as one piece.
      default: return 0;
    }
  }

  private lastStderrRecordStart(bytes: Buffer): number {
    const matcher = this.matcher!;
    // Lines from the end; the last one may be cut short, so it is never taken.
    let lineEnd = bytes.lastIndexOf(NL);
    while (lineEnd > 0) {
      const newline = bytes.lastIndexOf(NL, lineEnd - 1);
      const lineStart = newline + 1;
      if (lineStart === 0) return 0;
      if (bytes[lineStart] !== TAB && (bytes[lineStart] !== SPACE || matcher.mayStartWithSpace) && this.safeStart(bytes, lineStart, lineEnd)) return lineStart;
      lineEnd = newline;
    }
    return 0;
  }
}

/**
 * Where the last record that is not complete starts (the cut), reading rows from the start of
 * `bytes` the way CsvlogParser does (quoted fields with "" escapes and newlines; after a
 * malformed row or one with the wrong number of columns, the next line that starts with a
 * timestamp), so that both agree on where every record starts, on good input and bad.
 */
function lastCsvRecordStart(bytes: Buffer): number {
  const n = bytes.length;
  let start = 0;
  // A cut is safe at a row start from which each piece reads what one parse would: not before
  // the last byte the parser looked at to find a row malformed (a quoted field can run on).
  let safe = 0;
  let minCut = 0;
  while (start < n) {
    if (bytes[start] === NL) { start++; continue; }
    if (start >= minCut) safe = start;
    const end = csvRowEnd(bytes, start);
    if (end === INCOMPLETE) return safe;
    if (end === MALFORMED) {
      // Where the parser goes on after a bad row may lie beyond these bytes: cut before it.
      const next = nextRowStart(bytes, start);
      if (next >= n) return safe;
      minCut = Math.max(minCut, malformedEnd);
      start = next;
    } else start = end;
  }
  return n >= minCut ? n : safe;
}

const INCOMPLETE = -1;
const MALFORMED = -2;
/** After csvRowEnd returned MALFORMED: the offset after the last byte it read. */
let malformedEnd = 0;
const COMMA = 44;
const CR = 13;

/** The offset after a row's newline, INCOMPLETE, or MALFORMED (bad quoting or a column count csvlog never has). */
function csvRowEnd(bytes: Buffer, start: number): number {
  const n = bytes.length;
  let pos = start;
  let count = 0;
  for (;;) {
    if (bytes[pos] === QUOTE) {
      let from = pos + 1;
      for (;;) {
        const quote = bytes.indexOf(QUOTE, from);
        if (quote < 0 || quote + 1 >= n) return INCOMPLETE;
        if (bytes[quote + 1] === QUOTE) { from = quote + 2; continue; }
        pos = quote + 1;
        break;
      }
    } else {
      let i = pos;
      while (i < n) {
        const c = bytes[i];
        if (c === COMMA || c === NL || c === QUOTE) break;
        i++;
      }
      if (i >= n) return INCOMPLETE;
      if (bytes[i] === QUOTE) {
        malformedEnd = i + 1;
        return MALFORMED;
      }
      pos = i;
    }
    count++;
    const c = bytes[pos];
    if (c === COMMA) { pos++; continue; }
    const end = c === NL ? pos + 1 : c === CR && bytes[pos + 1] === NL ? pos + 2 : pos >= n ? INCOMPLETE : MALFORMED;
    if (end === MALFORMED) malformedEnd = pos + 2; // the parser also looked at the byte after
    else if (end >= 0 && count !== 23 && count !== 24 && count < 26) {
      malformedEnd = end;
      return MALFORMED;
    }
    return end;
  }
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 48 && byte <= 57;
}

/** As CsvlogParser resumes after a bad row: the next line that starts "YYYY-MM-DD HH:" (or the end). */
function nextRowStart(bytes: Buffer, start: number): number {
  for (let i = bytes.indexOf(NL, start); i >= 0; i = bytes.indexOf(NL, i + 1)) {
    const s = i + 1;
    if (s + 20 <= bytes.length && isDigit(bytes[s]) && isDigit(bytes[s + 1]) && isDigit(bytes[s + 2]) && isDigit(bytes[s + 3]) &&
      bytes[s + 4] === 45 && isDigit(bytes[s + 5]) && isDigit(bytes[s + 6]) && bytes[s + 7] === 45 && bytes[s + 10] === 32 && bytes[s + 13] === 58) return s;
  }
  return bytes.length;
}
