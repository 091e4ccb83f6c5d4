// npm run generate [-- --check]
//
// Writes what is derived from one declaration, so that nobody keeps it in step by hand:
//   - from the event field table (src/core/event-fields.ts): the JSON writer in core/event.ts, the
//     binary COPY row encoder in repository/encode.ts, the field tables of docs/event-model.md and
//     the column table of docs/repository.md (each between `generated:begin NAME` and
//     `generated:end NAME` markers);
//   - from the SQL files of src/sensors/sql, src/repository/sql and src/monitor/sql: a module holding
//     their text (sql-files.ts beside them), so that the SQL is compiled into the build — nothing
//     reads a file or a hand-kept list at run time, and dist/ needs no copy of the SQL.
// Code, not closures built at start: the writers run for every event, and written out they are
// the same straight-line code as before (no call per field through a table, no new Function).
// The output is checked in (a fresh clone typechecks and tests without running this);
// `--check` writes nothing and fails naming what is stale: `npm run build` runs it before tsc (so
// CI's npm ci and a fresh clone's), and test/core/event-fields.test.ts runs stale().
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EVENT_FIELDS, EVENT_GROUPS, type EventField } from '../src/core/event-fields.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BY = 'scripts/generate.ts from src/core/event-fields.ts (npm run generate); do not edit by hand';

/** The top-level items of the JSON object in order: a field, or a group at the place of its first field. */
type Item = { field: EventField } | { group: string; nullable: boolean; fields: EventField[] };

function items(): Item[] {
  const out: Item[] = [];
  for (const field of EVENT_FIELDS) {
    const dot = field.path.indexOf('.');
    if (dot < 0) {
      out.push({ field });
      continue;
    }
    const name = field.path.slice(0, dot);
    const last = out[out.length - 1];
    if (last && 'group' in last && last.group === name) last.fields.push(field);
    else {
      const group = EVENT_GROUPS.find((g) => g.name === name);
      if (!group) throw new Error(`event field ${field.path}: no group ${name} in EVENT_GROUPS`);
      if (out.some((i) => 'group' in i && i.group === name)) throw new Error(`event group ${name}: its fields must be adjacent`);
      out.push({ group: name, nullable: group.nullable, fields: [field] });
    }
  }
  return out;
}

const leaf = (field: EventField) => field.path.slice(field.path.indexOf('.') + 1);
const capital = (name: string) => name[0]!.toUpperCase() + name.slice(1);

const JSON_WRITER: Record<EventField['json'], string> = { string: 'jsonString', number: 'jsonNumber', strings: 'jsonParameters', object: 'jsonObject' };

/** A constant array of keys, wrapped as a person would. */
function keyArray(name: string, keys: string[]): string {
  const lines: string[] = [];
  let line = `const ${name} = [`;
  for (const [i, key] of keys.entries()) {
    const text = `'${key}'${i < keys.length - 1 ? ',' : ''}`;
    if (line.length + text.length + 1 > 118) {
      lines.push(line);
      line = '  ' + text;
    } else line += (line.endsWith('[') ? '' : ' ') + text;
  }
  lines.push(`${line}].map(K);`);
  return lines.join('\n');
}

function jsonWriter(): string {
  const out: string[] = [];
  const top: { key: string; write: string }[] = [];
  let close = '';
  for (const item of items()) {
    const sep = top.length === 0 ? '{' : close + ',';
    close = '';
    if ('field' in item) top.push({ key: `${sep}"${item.field.path}":`, write: `${JSON_WRITER[item.field.json]}(w, e.${item.field.path})` });
    else if (item.nullable) {
      // A nullable object: its own writer, called with null or the object.
      const v = item.group[0]!;
      const KEYS = `${item.group.toUpperCase()}_KEYS`;
      out.push(keyArray(KEYS, item.fields.map((f, i) => `${i === 0 ? '{' : ','}"${leaf(f)}":`)));
      out.push(`const ${item.group.toUpperCase()}_END = K('}');`, '');
      out.push(`function json${capital(item.group)}(w: ByteWriter, ${v}: ${capital(item.group)}Info | null): void {`,
        `  if (${v} === null) {`, '    jsonNull(w);', '    return;', '  }', `  const k = ${KEYS};`);
      for (const [i, f] of item.fields.entries()) out.push(`  w.constant(k[${i}]!); ${JSON_WRITER[f.json]}(w, ${v}.${leaf(f)});`);
      out.push(`  w.constant(${item.group.toUpperCase()}_END);`, '}', '');
      top.push({ key: `${sep}"${item.group}":`, write: `json${capital(item.group)}(w, e.${item.group})` });
    } else {
      // Always present: written inline.
      for (const [i, f] of item.fields.entries()) {
        top.push({ key: `${i === 0 ? `${sep}"${item.group}":{` : ','}"${leaf(f)}":`, write: `${JSON_WRITER[f.json]}(w, e.${f.path})` });
      }
      close = '}';
    }
  }
  out.push(keyArray('KEYS', top.map((t) => t.key)));
  out.push(`const EVENT_END = K('${close}}');`, '');
  out.push('/** Appends the event as one line of JSON (no newline): the bytes of JSON.stringify(event) in UTF-8. */',
    'export function writeEventJson(w: ByteWriter, e: PgwardenEvent): void {', '  const k = KEYS;');
  for (const [i, t] of top.entries()) out.push(`  w.constant(k[${i}]!); ${t.write};`);
  out.push('  w.constant(EVENT_END);', '}');
  return out.join('\n');
}

/** One column of a COPY row: the call that writes `value` as the column's type. */
function copyColumn(field: EventField, value: string): string[] {
  switch (field.type) {
    case 'timestamptz':
      if (field.path !== 'ts') throw new Error(`event field ${field.path}: only ts is a timestamptz (read by TimeReader)`);
      return ['binaryTime(w, time);'];
    case 'text': return [`binaryText(w, ${value});`];
    case 'integer': return [`binaryInt4(w, ${value});`];
    case 'bigint': return [`binaryInt8(w, ${value});`];
    case 'double precision': return [`binaryFloat8(w, ${value});`];
    case 'jsonb': return [`binaryJson(w, ${value});`];
    case 'text[]': return [`if (${value} === null) binaryNull(w);`, `else binaryTextArray(w, ${value});`];
  }
}

function copyEncoder(): string {
  const out: string[] = [];
  const body: string[] = [];
  for (const item of items()) {
    if ('field' in item) body.push(...copyColumn(item.field, `e.${item.field.path}`));
    else if (item.nullable) {
      const v = item.group[0]!;
      const NONE = `NO_${item.group.toUpperCase()}`;
      out.push(`/** ${item.fields.length} NULL columns: the ${item.group} fields of an event without one. */`,
        `const ${NONE} = Buffer.alloc(${item.fields.length} * 4, 0xff);`, '');
      body.push(`const ${v} = e.${item.group};`, `if (${v} === null) w.constant(${NONE});`, 'else {');
      for (const f of item.fields) body.push(...copyColumn(f, `${v}.${leaf(f)}`).map((line) => `  ${line}`));
      body.push('}');
    } else for (const f of item.fields) body.push(...copyColumn(f, `e.${f.path}`));
  }
  if (EVENT_FIELDS.length > 255) throw new Error('a COPY row writes its column count in one byte');
  out.push('/**',
    ' * Appends one binary COPY row for an event. `time`: its ts as read by TimeReader; an unreadable',
    ' * one (null) is stored as NULL (undated) rather than failing the batch.',
    ' */',
    'function writeCopyRow(w: ByteWriter, e: PgwardenEvent, time: ReadTime | null): void {',
    '  const b = w.room(2);',
    '  b[w.length] = 0;',
    `  b[w.length + 1] = ${EVENT_FIELDS.length}; // EVENT_COLUMNS.length`,
    '  w.length += 2;',
    ...body.map((line) => `  ${line}`),
    '}');
  return out.join('\n');
}

/** A markdown table's rows, one per field, joining a field whose doc is '' to the row above. */
function docRows(rows: { names: string[]; types: string[]; doc: string }[], withType: boolean): string[] {
  return rows.map((r) => {
    const types = [...new Set(r.types)].join(', ');
    return `| ${r.names.map((n) => `\`${n}\``).join(', ')} |${withType ? ` ${types} |` : ''} ${r.doc} |`;
  });
}

const DOC_TYPE: Record<EventField['json'], string> = { string: 'string', number: 'number', strings: 'array', object: 'object' };

function merge(rows: { names: string[]; types: string[]; doc: string }[], name: string, type: string, doc: string, where: string): void {
  if (doc !== '') rows.push({ names: [name], types: [type], doc });
  else if (rows.length === 0) throw new Error(`event field ${where}: the first row needs a doc`);
  else {
    rows[rows.length - 1]!.names.push(name);
    rows[rows.length - 1]!.types.push(type);
  }
}

function fieldDocs(): string {
  const rows: { names: string[]; types: string[]; doc: string }[] = [];
  for (const item of items()) {
    if ('field' in item) merge(rows, item.field.path, DOC_TYPE[item.field.json], item.field.doc, item.field.path);
    else rows.push({ names: [item.group], types: ['object'], doc: EVENT_GROUPS.find((g) => g.name === item.group)!.doc });
  }
  return ['| field | type | meaning |', '|---|---|---|', ...docRows(rows, true)].join('\n');
}

function groupDocs(group: string): string {
  const rows: { names: string[]; types: string[]; doc: string }[] = [];
  for (const f of EVENT_FIELDS.filter((x) => x.path.startsWith(`${group}.`))) merge(rows, leaf(f), DOC_TYPE[f.json], f.doc, f.path);
  return ['| field | meaning |', '|---|---|', ...docRows(rows, false)].join('\n');
}

function columnDocs(): string {
  return ['| column | type | event field |', '|---|---|---|',
    ...EVENT_FIELDS.map((f) => `| \`${f.column}\` | ${f.type}${f.notNull ? ' NOT NULL' : f.path === 'ts' ? ' (NOT NULL in `events`)' : ''} | \`${f.path}\` |`)].join('\n');
}

/** A module holding the SQL files of a directory (every file ending in .sql), by name. */
function sqlModule(dir: string): string {
  const files = readdirSync(`${ROOT}${dir}`).filter((f) => f.endsWith('.sql')).sort();
  return [`// Generated by scripts/generate.ts from ${dir}/*.sql (npm run generate); do not edit by hand.`,
    '// The SQL compiled into the build: the files themselves are the source, and are never edited once released.',
    'export const SQL_FILES: Readonly<Record<string, string>> = {',
    ...files.map((f) => `  ${JSON.stringify(f)}: ${JSON.stringify(readFileSync(`${ROOT}${dir}/${f}`, 'utf8'))},`),
    '};', ''].join('\n');
}

/** Replaces the text between a file's markers for `name` (TypeScript or markdown comments). */
function region(text: string, file: string, name: string, content: string): string {
  const md = file.endsWith('.md');
  const begin = md ? `<!-- generated:begin ${name} (${BY}) -->` : `// generated:begin ${name} (${BY})`;
  const end = md ? `<!-- generated:end ${name} -->` : `// generated:end ${name}`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file}: no markers for ${name} ("${begin}" … "${end}")`);
  return `${text.slice(0, from + begin.length)}\n${content}\n${text.slice(to)}`;
}

const REGIONS: Record<string, Record<string, () => string>> = {
  'src/core/event.ts': { 'event-json': jsonWriter },
  'src/repository/encode.ts': { 'copy-row': copyEncoder },
  'docs/event-model.md': { 'event-fields': fieldDocs, 'audit-fields': () => groupDocs('audit') },
  'docs/repository.md': { 'event-columns': columnDocs },
};
const MODULES: Record<string, () => string> = {
  'src/sensors/sql-files.ts': () => sqlModule('src/sensors/sql'),
  'src/repository/sql-files.ts': () => sqlModule('src/repository/sql'),
  'src/monitor/sql-files.ts': () => sqlModule('src/monitor/sql'),
};

/** Every generated file as it should be: path → text. */
export function generated(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [file, regions] of Object.entries(REGIONS)) {
    let text = readFileSync(`${ROOT}${file}`, 'utf8');
    for (const [name, make] of Object.entries(regions)) text = region(text, file, name, make());
    out.set(file, text);
  }
  for (const [file, make] of Object.entries(MODULES)) out.set(file, make());
  return out;
}

/** The generated files whose checked-in text differs from what the sources give. */
export function stale(): string[] {
  return [...generated()].filter(([file, text]) => {
    try {
      return readFileSync(`${ROOT}${file}`, 'utf8') !== text;
    } catch {
      return true;
    }
  }).map(([file]) => file);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const files = stale();
    if (files.length > 0) {
      // one line, as npm run build prints it before tsc (a stale file would build the old code)
      console.error(`stale generated ${files.length === 1 ? 'file' : 'files'} ${files.join(', ')} (not what scripts/generate.ts makes of the sources): run npm run generate and commit the result`);
      process.exit(1);
    }
  } else {
    for (const [file, text] of generated()) writeFileSync(`${ROOT}${file}`, text);
  }
}
