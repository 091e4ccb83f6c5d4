// Every pipeline component is one unit: a folder under src/pipeline/sources or sinks with its
// definition (config.ts: type, schema, doc, tests) and implementation (<type>.ts exporting build), one entry in the registry,
// a doc section that shows its type, and a test that configures or builds it. A missing piece fails here.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { parseConfig } from '../../src/core/config.ts';
import { PgwardenError } from '../../src/core/errors.ts';
import { implementationOf } from '../../src/pipeline/build.ts';
import type { SinkDefinition, SourceDefinition } from '../../src/pipeline/component.ts';
import { SINK_TYPES, SINKS, SOURCE_TYPES, SOURCES } from '../../src/pipeline/registry.ts';

const root = new URL('../../', import.meta.url);
const kinds = [
  { kind: 'sources', definitions: SOURCES as readonly (SourceDefinition | SinkDefinition)[] },
  { kind: 'sinks', definitions: SINKS as readonly (SourceDefinition | SinkDefinition)[] },
];

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The text of the section a `page.md#anchor` names: from its heading to the next heading of the same or a higher level. */
function section(doc: string): string | undefined {
  const [page, anchor] = doc.split('#') as [string, string | undefined];
  const file = new URL(`docs/${page}`, root);
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  let inFence = false;
  let start = -1;
  let level = 0;
  for (const [i, line] of lines.entries()) {
    if (line.startsWith('```')) inFence = !inFence;
    const heading = inFence ? null : /^(#{1,6}) (.*)$/.exec(line);
    if (!heading) continue;
    if (start >= 0 && heading[1]!.length <= level) return lines.slice(start, i).join('\n');
    if (start < 0 && slug(heading[2]!) === anchor) {
      start = i;
      level = heading[1]!.length;
    }
  }
  return start >= 0 ? lines.slice(start).join('\n') : undefined;
}

function configError(text: string): string {
  try {
    parseConfig(text, 'pgwarden.yaml');
  } catch (error) {
    assert.ok(error instanceof PgwardenError);
    return error.message;
  }
  assert.fail('expected a config error');
}

describe('pipeline component registry', () => {
  for (const { kind, definitions } of kinds) {
    it(`${kind}: each type is registered once, with a strict schema whose type: is its name, in its own folder`, async () => {
      const types = definitions.map((d) => d.type);
      assert.equal(new Set(types).size, types.length, `a ${kind} type registered twice: ${types.join(', ')}`);
      for (const definition of definitions) {
        assert.match(definition.type, /^[a-z][a-z0-9_]*$/);
        assert.ok(definition.schema instanceof z.ZodObject, `${definition.type}: schema is an object`);
        const type = definition.schema.shape.type;
        assert.ok(type instanceof z.ZodLiteral && type.value === definition.type, `${definition.type}: schema.shape.type is z.literal('${definition.type}')`);
        // strict: an unknown key is refused, with the keys allowed
        assert.equal(definition.schema.safeParse({ type: definition.type, no_such_key: 1 }).success, false);
        const folder = new URL(`src/pipeline/${kind}/${definition.type}/`, root);
        const module = await import(new URL('config.ts', folder).href) as Record<string, unknown>;
        assert.ok(Object.values(module).includes(definition), `src/pipeline/${kind}/${definition.type}/config.ts exports the registered definition`);
        // the implementation, by the name build.ts loads it under, with its one factory
        const implementation = implementationOf(kind as 'sources' | 'sinks', definition.type);
        assert.ok(existsSync(implementation), `${definition.type}: ${implementation.pathname} exists`);
        const built = await import(implementation.href) as { build?: unknown };
        assert.equal(typeof built.build, 'function', `${implementation.pathname} exports build(context)`);
      }
    });

    it(`${kind}: every folder is a registered type (no unit without a registry entry)`, () => {
      const dir = new URL(`src/pipeline/${kind}/`, root);
      const folders = readdirSync(dir).filter((name) => statSync(new URL(name, dir)).isDirectory());
      assert.deepEqual(folders.sort(), definitions.map((d) => d.type).sort());
    });

    it(`${kind}: each type has a doc section that shows its type`, () => {
      for (const definition of definitions) {
        // the anchor keeps a type's underscore (`## splunk_hec sink` is #splunk_hec-sink)
        assert.match(definition.doc, /^[a-z0-9-]+\.md#[a-z0-9_-]+$/, `${definition.type}: doc is page.md#anchor`);
        const text = section(definition.doc);
        assert.ok(text !== undefined, `${definition.type}: docs/${definition.doc} is a heading`);
        assert.ok(new RegExp(`type: ${definition.type}\\b|\`${definition.type}\``).test(text), `${definition.type}: docs/${definition.doc} shows type: ${definition.type}`);
      }
    });

    it(`${kind}: each type has a test that configures or builds it`, () => {
      for (const definition of definitions) {
        assert.ok(definition.tests.length > 0, `${definition.type}: no test named`);
        for (const test of definition.tests) {
          const file = new URL(test, root);
          assert.ok(existsSync(file), `${definition.type}: ${test} exists`);
          const text = readFileSync(file, 'utf8');
          const uses = new RegExp(`type: '?${definition.type}\\b|pipeline/${kind}/${definition.type}/`).test(text);
          assert.ok(uses, `${test} configures type: ${definition.type} or imports src/pipeline/${kind}/${definition.type}/`);
        }
      }
    });
  }

  it('refuses a type that is not registered, naming every registered one', () => {
    const list = (types: string[]) => `${types.slice(0, -1).join(', ')} or ${types.at(-1)!}`;
    assert.match(configError('pipeline:\n  sources:\n    a: { type: kinesis }\n'),
      new RegExp(`^pgwarden\\.yaml:3: pipeline\\.sources\\.a\\.type: type must be ${list(SOURCE_TYPES)}$`));
    assert.match(configError('pipeline:\n  sinks:\n    a: { type: sms }\n'),
      new RegExp(`^pgwarden\\.yaml:3: pipeline\\.sinks\\.a\\.type: type must be ${list(SINK_TYPES)}$`));
    // what the messages said before the registry: the types then, in that order, are still all
    // there (a new type, appended anywhere, needs no edit here)
    const inOrder = (types: readonly string[], before: string[]) => assert.deepEqual(types.filter((t) => before.includes(t)), before);
    inOrder(SOURCE_TYPES, ['ddl', 'guard', 'logfile', 'cloudwatch', 'sqs', 'nats', 'syslog']);
    inOrder(SINK_TYPES, ['email', 'webhook', 'repository', 'jsonl', 'syslog', 'nats']);
  });

  it("runs a component's own checks with the file's line: a server name that is not under servers:", () => {
    assert.equal(configError('servers:\n  a: { url: postgres://x }\npipeline:\n  sources:\n    d:\n      type: ddl\n      server: b\n'),
      'pgwarden.yaml:7: pipeline.sources.d.server: "b" is not one of servers (a)');
    assert.equal(configError('pipeline:\n  sinks:\n    n: { type: nats, user: u, token_env: T }\n'),
      'pgwarden.yaml:3: pipeline.sinks.n: authenticate one way: user (with password_env/password_file), token_env/token_file, or creds_file');
  });
});
