// What a statement does, read from its text: the statement is what the client sent, so every
// reading skips comments, string literals and quoted identifiers (a `/* SUPERUSER */` or a
// `'COPY … TO PROGRAM'` inside a literal does nothing), follows parentheses (a WHERE inside a
// sub-query does not bound an UPDATE), and looks at every statement of a multi-statement string
// (pgAudit logs each with the whole string). Function bodies (DO, CREATE FUNCTION) are read as
// code. The text only ever describes what the logged session itself did: the identity an alert
// names comes from the log record's own fields, never from here.

const enum Tok { End, Word, QuotedIdent, String, Number, Punct, Other }

/** A lexer over SQL text that allocates nothing per token: read `type`, `start`, `end`, `depth`. */
class Lexer {
  type: Tok = Tok.End;
  start = 0;
  end = 0;
  /** parenthesis depth of the current token (a `(` has the depth outside it) */
  depth = 0;
  /** for a String: where its value lies in the text (dollar quotes: the body) */
  valueStart = 0;
  valueEnd = 0;
  private pos = 0;
  private nextDepth = 0;

  constructor(readonly text: string) {}

  next(): Tok {
    const s = this.text;
    const n = s.length;
    let i = this.pos;
    for (;;) {
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      if (s.charCodeAt(i) === 45 && s.charCodeAt(i + 1) === 45) { // -- comment
        const eol = s.indexOf('\n', i);
        i = eol < 0 ? n : eol + 1;
        continue;
      }
      if (s.charCodeAt(i) === 47 && s.charCodeAt(i + 1) === 42) { // /* nested */ comment
        let level = 1;
        i += 2;
        while (i < n && level > 0) {
          if (s.charCodeAt(i) === 47 && s.charCodeAt(i + 1) === 42) { level++; i += 2; }
          else if (s.charCodeAt(i) === 42 && s.charCodeAt(i + 1) === 47) { level--; i += 2; }
          else i++;
        }
        continue;
      }
      break;
    }
    this.depth = this.nextDepth;
    this.start = i;
    if (i >= n) {
      this.pos = n;
      this.end = n;
      return (this.type = Tok.End);
    }
    const c = s.charCodeAt(i);
    if (c === 39) return this.quoted(i, i + 1, false); // '…'
    if ((c === 69 || c === 101) && s.charCodeAt(i + 1) === 39) return this.quoted(i, i + 2, true); // E'…'
    if ((c === 85 || c === 117) && s.charCodeAt(i + 1) === 38 && s.charCodeAt(i + 2) === 39) return this.quoted(i, i + 3, false); // U&'…'
    if ((c === 66 || c === 98 || c === 88 || c === 120 || c === 78 || c === 110) && s.charCodeAt(i + 1) === 39) return this.quoted(i, i + 2, false); // B'' X'' N''
    if (c === 34) { // "quoted identifier"
      let j = i + 1;
      for (;;) {
        const q = s.indexOf('"', j);
        if (q < 0) { j = n; break; }
        if (s.charCodeAt(q + 1) === 34) { j = q + 2; continue; }
        j = q + 1;
        break;
      }
      this.pos = this.end = j;
      return (this.type = Tok.QuotedIdent);
    }
    if (c === 36) { // $tag$ … $tag$, or $1
      const next = s.charCodeAt(i + 1);
      if (next >= 48 && next <= 57) {
        let j = i + 1;
        while (j < n && isDigit(s.charCodeAt(j))) j++;
        this.pos = this.end = j;
        return (this.type = Tok.Other);
      }
      let j = i + 1;
      while (j < n && isIdentChar(s.charCodeAt(j)) && s.charCodeAt(j) !== 36) j++;
      if (s.charCodeAt(j) === 36) {
        const tag = s.slice(i, j + 1);
        const close = s.indexOf(tag, j + 1);
        this.valueStart = j + 1;
        this.valueEnd = close < 0 ? n : close;
        this.pos = this.end = close < 0 ? n : close + tag.length;
        return (this.type = Tok.String);
      }
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(s.charCodeAt(j))) j++;
      this.pos = this.end = j;
      return (this.type = Tok.Word);
    }
    if (isDigit(c)) {
      let j = i + 1;
      while (j < n && (isIdentChar(s.charCodeAt(j)) || s.charCodeAt(j) === 46)) j++;
      this.pos = this.end = j;
      return (this.type = Tok.Number);
    }
    this.pos = this.end = i + 1;
    if (c === 40) this.nextDepth++;
    else if (c === 41 && this.nextDepth > 0) { this.nextDepth--; this.depth = this.nextDepth; }
    return (this.type = Tok.Punct);
  }

  private quoted(start: number, from: number, backslashes: boolean): Tok {
    const s = this.text;
    let j = from;
    for (;;) {
      if (j >= s.length) break;
      const c = s.charCodeAt(j);
      if (backslashes && c === 92) { j += 2; continue; }
      if (c === 39) {
        if (s.charCodeAt(j + 1) === 39) { j += 2; continue; }
        break;
      }
      j++;
    }
    this.start = start;
    this.valueStart = from;
    this.valueEnd = Math.min(j, s.length);
    this.pos = this.end = Math.min(j + 1, s.length);
    return (this.type = Tok.String);
  }

  /** The current token is this keyword (lower case given), at any depth. */
  is(word: string): boolean {
    if (this.type !== Tok.Word || this.end - this.start !== word.length) return false;
    const s = this.text;
    for (let k = 0; k < word.length; k++) {
      let c = s.charCodeAt(this.start + k);
      if (c >= 65 && c <= 90) c += 32;
      if (c !== word.charCodeAt(k)) return false;
    }
    return true;
  }

  punct(char: string): boolean {
    return this.type === Tok.Punct && this.text.charCodeAt(this.start) === char.charCodeAt(0);
  }

  /** An identifier's name: unquoted ones folded to lower case, quoted ones as written. */
  name(): string {
    if (this.type === Tok.QuotedIdent) return this.text.slice(this.start + 1, this.end - 1).replaceAll('""', '"');
    return this.text.slice(this.start, this.end).toLowerCase();
  }

  stringValue(): string {
    return this.text.slice(this.valueStart, this.valueEnd).replaceAll("''", "'");
  }

  isName(): boolean {
    return this.type === Tok.Word || this.type === Tok.QuotedIdent;
  }

  /** The end of the text. */
  done(): boolean {
    return this.type === Tok.End;
  }

  /** The end of the current statement: a `;` outside parentheses, or the end of the text. */
  atStatementEnd(): boolean {
    return this.type === Tok.End || (this.depth === 0 && this.punct(';'));
  }
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}
function isIdentChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === 36;
}

/** Calls `each` with a lexer positioned on the first token of every statement in the text. */
function eachStatement(text: string, each: (lexer: Lexer) => void): void {
  const lexer = new Lexer(text);
  lexer.next();
  while (!lexer.done()) {
    if (lexer.punct(';')) { lexer.next(); continue; }
    each(lexer);
    // Skip whatever the reader left of this statement, and its `;`.
    while (!lexer.atStatementEnd()) lexer.next();
    if (!lexer.done()) lexer.next();
  }
}

/** Advances to the next token, returning false at the end of the statement. */
function advance(lexer: Lexer): boolean {
  lexer.next();
  return !lexer.atStatementEnd();
}

/** What makes a statement need the lexer: parentheses, quotes, dollar quotes, comments, a `;` before its end. */
const SIMPLE_UNSAFE = /[()'"$]|--|\/\*|;\s*\S/;

/**
 * An UPDATE or DELETE without a WHERE clause of its own (one in a sub-query or another CTE does
 * not count; one in the CTE that holds the UPDATE or DELETE does), or a TRUNCATE. `command` is
 * pgAudit's command.
 */
export function isUnboundedChange(statement: string | null, command: string): boolean {
  const upper = command.toUpperCase();
  if (upper === 'TRUNCATE' || upper === 'TRUNCATE TABLE') return true;
  if (statement === null || (upper !== 'UPDATE' && upper !== 'DELETE')) return false;
  if (!/where/i.test(statement)) return true;
  // Most statements have no parentheses, quotes, comments or second statement: a word test is enough.
  if (!SIMPLE_UNSAFE.test(statement)) return !/\bwhere\b/i.test(statement);
  const verb = upper === 'UPDATE' ? 'update' : 'delete';
  let unbounded = false;
  eachStatement(statement, (lexer) => {
    let verbDepth = -1;
    let bounded = false;
    // FOR UPDATE, FOR NO KEY UPDATE, DO UPDATE, ON UPDATE, UPDATE OF: not the statement's verb.
    let afterQualifier = false;
    do {
      if (verbDepth >= 0) {
        if (lexer.depth < verbDepth) {
          if (!bounded) unbounded = true;
          verbDepth = -1;
        } else if (lexer.depth === verbDepth && lexer.is('where')) bounded = true;
      }
      if (verbDepth < 0 && !afterQualifier && lexer.is(verb)) {
        verbDepth = lexer.depth;
        bounded = false;
      }
      afterQualifier = lexer.is('for') || lexer.is('key') || lexer.is('do') || lexer.is('on') || lexer.is('of');
    } while (advance(lexer));
    if (verbDepth >= 0 && !bounded) unbounded = true;
  });
  return unbounded;
}

const ROLE_ATTRIBUTES = new Set(['superuser', 'createrole', 'bypassrls', 'replication', 'createdb']);

/**
 * What a role statement gives: role attributes (upper case: SUPERUSER, CREATEROLE, BYPASSRLS,
 * REPLICATION, CREATEDB) and role memberships (the role names, as PostgreSQL folds them).
 */
export function grantedPrivileges(statement: string | null): string[] {
  if (statement === null) return [];
  const granted: string[] = [];
  eachStatement(statement, (lexer) => {
    if (lexer.is('grant')) {
      // GRANT role [, …] TO grantee: a role grant has no ON before TO.
      const roles: string[] = [];
      while (advance(lexer)) {
        if (lexer.depth !== 0) continue;
        if (lexer.is('on')) return;
        if (lexer.is('to')) {
          granted.push(...roles);
          return;
        }
        if (lexer.isName()) roles.push(lexer.name());
      }
      return;
    }
    const create = lexer.is('create');
    if (!create && !lexer.is('alter')) return;
    if (!advance(lexer)) return;
    if (!create && lexer.is('group')) {
      // ALTER GROUP g ADD USER u: u becomes a member of g.
      if (advance(lexer) && lexer.isName()) {
        const group = lexer.name();
        if (advance(lexer) && lexer.is('add')) granted.push(group);
      }
      return;
    }
    if (!(lexer.is('role') || lexer.is('user') || lexer.is('group'))) return;
    if (!advance(lexer) || !lexer.isName()) return; // the role's name (or CURRENT_USER …)
    // IN ROLE r1, r2: 1 while a role name is expected, 2 after one.
    let inRole = 0;
    while (advance(lexer)) {
      if (lexer.depth !== 0) continue;
      // ALTER ROLE x SET …, RESET …, RENAME TO …, IN DATABASE d SET …: no privileges.
      if (!create && (lexer.is('set') || lexer.is('reset') || lexer.is('rename') || lexer.is('in'))) return;
      if (inRole === 1 && lexer.isName()) { granted.push(lexer.name()); inRole = 2; continue; }
      if (inRole === 2 && lexer.punct(',')) { inRole = 1; continue; }
      inRole = 0;
      if (lexer.type !== Tok.Word) continue;
      const word = lexer.name();
      if (ROLE_ATTRIBUTES.has(word)) granted.push(word.toUpperCase());
      else if (create && word === 'in' && advance(lexer) && (lexer.is('role') || lexer.is('group'))) inRole = 1; // x gets r's privileges
    }
  });
  return granted;
}

/**
 * Settings a statement changes, lower case: SET / RESET, ALTER SYSTEM, ALTER ROLE|DATABASE … SET,
 * set_config('name', …). `*` stands for every setting (ALTER SYSTEM RESET ALL, ALTER ROLE … RESET ALL).
 */
export function changedSettings(statement: string | null): string[] {
  if (statement === null || !/set|reset/i.test(statement)) return [];
  const names: string[] = [];
  const readName = (lexer: Lexer): string | null => {
    if (!lexer.isName()) return null;
    let name = lexer.name();
    while (advance(lexer) && lexer.punct('.')) {
      if (!advance(lexer) || !lexer.isName()) break;
      name += `.${lexer.name()}`;
    }
    return name;
  };
  const setOrReset = (lexer: Lexer, session: boolean) => {
    const reset = lexer.is('reset');
    if (!advance(lexer)) return;
    if (!reset && (lexer.is('session') || lexer.is('local'))) {
      if (!advance(lexer)) return;
      if (lexer.is('authorization')) return; // SET SESSION AUTHORIZATION
    }
    if (!reset && (lexer.is('role') || lexer.is('transaction') || lexer.is('constraints'))) return;
    if (!reset && lexer.is('time')) { names.push('timezone'); return; }
    if (lexer.is('all')) {
      if (!session) names.push('*'); // a session's RESET ALL restores the configured values
      return;
    }
    const name = readName(lexer);
    if (name !== null) names.push(name);
  };
  eachStatement(statement, (lexer) => {
    if (lexer.is('set') || lexer.is('reset')) { setOrReset(lexer, true); }
    else if (lexer.is('alter')) {
      if (!advance(lexer)) return;
      if (lexer.is('system')) {
        if (advance(lexer)) setOrReset(lexer, false);
        return;
      }
      if (!(lexer.is('role') || lexer.is('user') || lexer.is('database'))) return;
      while (advance(lexer)) {
        if (lexer.depth === 0 && (lexer.is('set') || lexer.is('reset'))) {
          setOrReset(lexer, false);
          return;
        }
      }
      return;
    }
    // set_config('name', value, is_local) anywhere in the statement.
    if (!/set_config/i.test(lexer.text)) return;
    do {
      if (lexer.is('set_config')) {
        if (advance(lexer) && lexer.punct('(') && advance(lexer) && lexer.type === Tok.String) names.push(lexer.stringValue().toLowerCase());
      }
    } while (!lexer.atStatementEnd() && (lexer.next(), true));
  });
  return names;
}

/**
 * Functions a statement calls (lower case, without the schema), reading the bodies of DO blocks
 * and CREATE FUNCTION/PROCEDURE as code. `mention` is a quick test of the text first.
 */
export function calledFunctions(statement: string | null, mention: RegExp): string[] {
  if (statement === null || !mention.test(statement)) return [];
  const names: string[] = [];
  const scan = (text: string, depth: number) => {
    eachStatement(text, (lexer) => {
      const body = lexer.is('do') || (lexer.is('create') && /\b(function|procedure)\b/i.test(text));
      let previous = '';
      // The name after FUNCTION or PROCEDURE is the one being created (or dropped), not a call.
      let defining = false;
      do {
        if (lexer.type === Tok.String) {
          if (body && depth < 3) scan(lexer.text.slice(lexer.valueStart, lexer.valueEnd), depth + 1);
          previous = '';
        } else if (lexer.punct('(') && previous) {
          if (!defining) names.push(previous);
          previous = '';
          defining = false;
        } else if (lexer.isName()) {
          if (lexer.is('function') || lexer.is('procedure')) defining = true;
          else previous = lexer.name();
        } else if (!lexer.punct('.')) {
          previous = '';
        }
      } while (!lexer.atStatementEnd() && (lexer.next(), true));
    });
  };
  scan(statement, 0);
  return names;
}

/** Languages a statement creates a function in or runs a DO block in (lower case). */
export function usedLanguages(statement: string | null): string[] {
  if (statement === null || !/language|\bdo\b/i.test(statement)) return [];
  const languages: string[] = [];
  eachStatement(statement, (lexer) => {
    const isDo = lexer.is('do');
    if (!isDo && !lexer.is('create')) return;
    let code = isDo;
    let named = false;
    while (advance(lexer)) {
      if (lexer.depth !== 0) continue;
      if (lexer.is('function') || lexer.is('procedure')) code = true;
      if (code && lexer.is('language')) {
        if (!advance(lexer)) break;
        languages.push(lexer.type === Tok.String ? lexer.stringValue().toLowerCase() : lexer.name());
        named = true;
      }
    }
    if (isDo && !named) languages.push('plpgsql');
  });
  return languages;
}

/** COPY … TO PROGRAM / FROM PROGRAM: a shell command run by the server. */
export function isCopyProgram(statement: string | null): boolean {
  if (statement === null || !/program/i.test(statement)) return false;
  let program = false;
  eachStatement(statement, (lexer) => {
    if (!lexer.is('copy')) return;
    let direction = false;
    while (advance(lexer)) {
      if (lexer.depth !== 0) continue;
      if (direction && lexer.is('program')) { program = true; return; }
      direction = lexer.is('to') || lexer.is('from');
    }
  });
  return program;
}

/** ALTER EVENT TRIGGER … DISABLE (or ENABLE REPLICA, which stops it firing in normal sessions), DROP EVENT TRIGGER. */
export function disablesEventTrigger(statement: string | null): boolean {
  if (statement === null || !/event/i.test(statement)) return false;
  let disables = false;
  eachStatement(statement, (lexer) => {
    const drop = lexer.is('drop');
    if (!drop && !lexer.is('alter')) return;
    if (!advance(lexer) || !lexer.is('event') || !advance(lexer) || !lexer.is('trigger')) return;
    if (drop) { disables = true; return; }
    while (advance(lexer)) {
      if (lexer.is('disable') || lexer.is('replica')) { disables = true; return; }
    }
  });
  return disables;
}
