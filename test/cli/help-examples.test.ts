// The config examples the built CLI prints in its help are configs this version reads as they
// say, and teach today's spelling: `alerts run --help` routes with `filter`, not the older
// match/ignore (which log a warning at start).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config.ts';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { compileRouting, routingWarnings } from '../../src/pipeline/filter.ts';
import { runCli } from '../harness/cli.ts';

describe('help examples', () => {
  it('alerts run --help: the example pgwarden.yaml parses, warns about nothing and routes DROPs and tamper alerts', async () => {
    const { code, stdout } = await runCli(['alerts', 'run', '--help']);
    assert.equal(code, 0);
    const at = stdout.indexOf('Example pgwarden.yaml:\n');
    assert.ok(at >= 0, stdout);
    // the example: its lines, two spaces of help indentation off
    const lines = stdout.slice(at).split('\n').slice(1);
    const example = lines.slice(0, lines.findIndex((l) => !l.startsWith('  '))).map((l) => l.slice(2)).join('\n');
    const config = parseConfig(`${example}\n`, 'help-example.yaml');
    const sinks = config.pipeline.sinks as Record<string, { match?: unknown; ignore?: unknown }>;
    assert.deepEqual(Object.keys(sinks), ['dba-mail', 'chatops']);
    assert.ok(Object.values(sinks).every((s) => s.match === undefined && s.ignore === undefined), example);
    assert.deepEqual(routingWarnings(config.pipeline.sinks), []);
    const ddl = (tag: string) => {
      const e = newEvent('ddl', 'db1', { input: 'ddl:db1/app', position: 1, line: null });
      e.ddl = { command_tag: tag, current_user: 'alice', statement: `${tag} t` } as NonNullable<PgwardenEvent['ddl']>;
      return e;
    };
    const route = compileRouting(config.pipeline.sinks.chatops);
    assert.deepEqual([ddl('DROP TABLE'), ddl('CREATE INDEX'), newEvent('tamper', 'db1', { input: 'tamper:db1/app', position: 1, line: null })].map(route),
      [true, false, true]);
  });
});
