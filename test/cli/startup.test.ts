// What `pgwarden check` loads before its first connection, as a monitoring system starts it every
// minute: on Node.js 20 the pg driver loaded undici (fetch) just to ask whether it runs in a
// Cloudflare Worker (src/core/pg-runtime-hint.ts), and the pgpass reader is loaded only when a
// password has to be looked up in a pgpass file, the IP-address parser only by guard rules. Checked on the built CLI module of the check
// command (what bin/pgwarden.js runs), in a fresh Node.js process; no timing is asserted.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

const MONITOR_MODULE = new URL('../../dist/cli/monitor.js', import.meta.url).href;

describe('check command start-up', () => {
  it('loads the pg driver without undici or pgpass, and leaves no navigator behind where Node.js has none', () => {
    const script = `import { createRequire } from 'node:module';
      const before = typeof globalThis.navigator;
      const { default: pg } = await import(${JSON.stringify(new URL('../../dist/core/pg.js', import.meta.url).href)});
      await import(${JSON.stringify(MONITOR_MODULE)});
      console.log(JSON.stringify({ before, after: typeof globalThis.navigator, client: typeof pg.Client,
        undici: process.moduleLoadList.filter((m) => m.includes('undici')),
        lazy: Object.keys(createRequire(import.meta.url).cache).filter((f) => /\\/node_modules\\/(pgpass|ipaddr\\.js)\\//.test(f)) }));`;
    const seen = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as
      { before: string; after: string; client: string; undici: string[]; lazy: string[] };
    assert.deepEqual(seen.undici, [], 'undici was loaded');
    assert.equal(seen.after, seen.before, 'the global navigator changed');
    assert.equal(seen.client, 'function');
    assert.deepEqual(seen.lazy, [], 'pgpass (needed for a password lookup) or ipaddr.js (guard rules) was loaded');
  });
});
