// What `pgwarden check` loads before its first connection, as a monitoring system starts it every
// minute: on Node.js 20 the pg driver loaded undici (fetch) just to ask whether it runs in a
// Cloudflare Worker (src/core/pg-runtime-hint.ts), and the pgpass reader is loaded only when a
// password has to be looked up in a pgpass file, the IP-address parser only by guard rules. Checked on the built CLI module of the check
// command (what bin/pgwarden.js runs), in a fresh Node.js process; no timing is asserted.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

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

describe('check command bundle', () => {
  it('runs `pgwarden check` from the bundle (dist/check/), a handful of modules, without pgpass, ipaddr.js or undici', () => {
    // Every module resolved is written to stderr by a resolve hook (hooks run on their own thread).
    const hooks = `export async function resolve(specifier, context, next) {
      const resolved = await next(specifier, context);
      process.stderr.write('RESOLVED ' + resolved.url + '\\n');
      return resolved;
    }`;
    const register = `import { createRequire, register } from 'node:module';
      register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});
      const cache = createRequire(process.argv[1]).cache;
      process.on('exit', () => process.stderr.write('CJS ' + JSON.stringify(Object.keys(cache)) + '\\n'
        + 'UNDICI ' + JSON.stringify(process.moduleLoadList.filter((m) => m.includes('undici'))) + '\\n'));`;
    const bin = fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, bin, 'check', '--checks', 'none_such'],
      { encoding: 'utf8', env: { ...process.env, PGWARDEN_CONFIG: '' } });
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stdout, /^PGWARDEN UNKNOWN - --checks: "none_such" is not a check/);
    const root = new URL('../../', import.meta.url).href;
    const ours = [...new Set(run.stderr.split('\n').filter((l) => l.startsWith('RESOLVED file:')).map((l) => l.slice('RESOLVED '.length)))]
      .filter((url) => url.startsWith(root)).map((url) => url.slice(root.length));
    const outside = ours.filter((file) => file !== 'bin/pgwarden.js' && !file.startsWith('dist/check/'));
    assert.deepEqual(outside, [], 'modules loaded from outside the bundle');
    assert.ok(ours.length < 25, `${ours.length} modules: ${ours.join(', ')}`);
    const cjs = JSON.parse(/^CJS (.*)$/m.exec(run.stderr)![1]!) as string[];
    assert.deepEqual(cjs.filter((f) => /\/node_modules\/(pgpass|ipaddr\.js|pg|commander)\//.test(f)), [], 'pgpass, ipaddr.js, or an unbundled pg or commander was loaded');
    assert.deepEqual(JSON.parse(/^UNDICI (.*)$/m.exec(run.stderr)![1]!), [], 'undici was loaded');
  });
});
