// Line breaks in the startup packet's names (stderr logs whose log_line_prefix has %u or %d).
//
// PostgreSQL writes the user and database a client sent (before it authenticated, each cut to
// NAMEDATALEN-1 = 63 bytes) raw into %u and %d: a line break in them ends the physical line
// inside the prefix. The record then spans lines like
//   2026-… [4242] x                                   <- the real %m [%p] and the name's start (the "cut" line)
//   2026-… [77] victim@postgres LOG:  AUDIT: …         <- client text that reads as a record of pid 77
//    FATAL:  password authentication failed for …     <- the real prefix goes on after the name
// and every line in between lies within the names' budget. A cut line (it starts with the
// prefix's fixed fields up to the first free-text field, and is not a record) is joined with
// the lines after it, the joined text read with the severity word in its last line; the join
// is taken when that record is a FATAL or an extra line (DETAIL, HINT, …): the only records a
// backend writes with names it has not authenticated. The lines joined are then never records
// and never change a session. The decision depends only on the lines themselves (no state), so
// RecordSplitter can make it the same way (split.ts).
//
// A name's first line can also read as a whole record of the client's own pid (`a@b LOG:  z`,
// then the line break): nothing is cut, and the lines after it read as records until the
// "tail" comes, the line that goes on with the real prefix after the name (`@postgres FATAL:  …`,
// ` DETAIL:  …`): it starts with neither the prefix nor a TAB, so PostgreSQL wrote it only
// after a line break inside a prefix. The tail proves afterwards that the lines before it (within
// the names' budget) were one record: tailJoin() finds the earliest line they join from, and the
// parser rewinds what those lines did (held back until no tail can reach them: StderrParser).
import type { PrefixMatcher } from './prefix.ts';

/**
 * True when `line` (not a record) starts with the prefix's fixed fields, so that it may be the
 * first line of a record whose name holds a line break.
 */
export function isCutLine(matcher: PrefixMatcher, line: string): boolean {
  return matcher.joinBudget > 0 && matcher.headEnd(line) >= 0;
}

/**
 * Reads `joined` (a cut line and the lines after it, joined with "\n") with the severity word
 * at or after `lastLine` (where its last line starts). True when the reading is a record the
 * join may make (FATAL, or an extra line of one); then the matcher holds it.
 */
export function readJoined(matcher: PrefixMatcher, joined: string, lastLine: number): boolean {
  if (!matcher.matchJoined(joined, lastLine)) return false;
  return matcher.level.label !== undefined || matcher.level.severity === 'FATAL';
}

/** True when a line starting at `lastLine` of the joined text is still within the names' budget of a cut line. */
export function withinBudget(matcher: PrefixMatcher, cutLine: string, lastLine: number): boolean {
  return lastLine - matcher.headEnd(cutLine) <= matcher.joinBudget;
}

/**
 * True when `line` may be a tail: the rest of a prefix after a line break inside a name (not a
 * continuation line, which starts with a TAB, nor a zero-filled block) with a severity word in it.
 * Only called for lines that are not records (or that start with a space).
 */
export function mayBeTail(line: string): boolean {
  const c0 = line.charCodeAt(0);
  return line.length > 0 && c0 !== 9 && c0 !== 0 && line.includes(':  ');
}

/** A tail and the lines it joins (see tailJoin). */
export interface TailJoin {
  /** Index (in the lines given) of the line the record starts with. */
  start: number;
  joined: string;
  /** Where the tail starts in `joined`. */
  lastLine: number;
}

/**
 * `tail` (see mayBeTail) after `lines` (the physical lines before it, oldest first): the
 * earliest line `isStart` allows (one read as a record) from which the lines and the tail read
 * as one record with the severity word in the tail, within the names' budget (`read`: readJoined,
 * or the parser's own reader of joined lines, which then holds the reading); null if none. The
 * earliest, because every line after the record's first one is client text: the latest could
 * leave forged lines before it standing; but where the message quotes the login, the earliest
 * whose reading names it (a real record just before a failed login is a start too: namesQuoted).
 */
export function tailJoin(matcher: PrefixMatcher, lines: readonly string[], isStart: (index: number) => boolean, tail: string,
  read: (joined: string, lastLine: number) => boolean): TailJoin | null {
  if (!mayBeTail(tail)) return null;
  let first = 0;
  while (first < lines.length && !isStart(first)) first++;
  if (first === lines.length) return null;
  const joined = `${lines.slice(first).join('\n')}\n${tail}`;
  const lastLine = joined.length - tail.length;
  let at = 0;
  let earliest: TailJoin | null = null;
  let readLater = false;
  for (let i = first; i < lines.length; at += lines[i]!.length + 1, i++) {
    const line = lines[i]!;
    if (!isStart(i) || matcher.headEnd(line) < 0 || !withinBudget(matcher, line, lastLine - at)) continue;
    const text = at === 0 ? joined : joined.slice(at);
    if (!read(text, lastLine - at)) continue;
    const found = { start: i, joined: text, lastLine: lastLine - at };
    if (namesQuoted(matcher, text) !== false) return found;
    if (earliest === null) earliest = found;
    else readLater = true;
  }
  // No reading names the quoted login (a prefix splitting user@host another way): the earliest, read again.
  if (earliest !== null && readLater) read(earliest.joined, earliest.lastLine);
  return earliest;
}

/** Where a failed login's message quotes the name PostgreSQL was sent: the user (%u), or the database (%d). */
const QUOTES: readonly [string, 'u' | 'd'][] = [[' authentication failed for user "', 'u'], ['role "', 'u'], [', user "', 'u'],
  ['database "', 'd'], [' for database "', 'd']];

/**
 * Whether the reading the matcher holds (of `joined`) names the login its message quotes: true
 * or false, or null when the message (its first line, in the tail) quotes none. A real record
 * just before a failed login can read, joined with the login's lines, as one record too (its
 * own text then inside the name), but its reading names another user than PostgreSQL quoted:
 * the record starts where the quoted name does. The quoted name's first line is all the tail
 * holds: a name with a line break goes on in the message's continuation line.
 */
function namesQuoted(matcher: PrefixMatcher, joined: string): boolean | null {
  if (matcher.level.label !== undefined) return null;
  const message = joined.slice(matcher.level.textStart);
  for (const [quote, letter] of QUOTES) {
    const at = message.indexOf(quote);
    // `role "x" does not exist`, `database "x" does not exist` open the message; the others are inside it.
    if (at < 0 || (quote.charCodeAt(0) !== 32 && quote.charCodeAt(0) !== 44 && at !== 0)) continue;
    const name = letter === 'u' ? matcher.user() : matcher.database();
    if (name === null) return null;
    // A database is quoted once the user has authenticated: a role, whose name holds no line break (a reading from a record before puts that record's text in it).
    if (letter === 'd' && (matcher.user() ?? '').includes('\n')) return false;
    const rest = message.slice(at + quote.length);
    const lineBreak = name.indexOf('\n');
    return lineBreak < 0 ? rest.startsWith(`${name}"`) : rest === name.slice(0, lineBreak);
  }
  return null;
}
