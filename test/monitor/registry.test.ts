// Every check is one unit: a file in src/monitor/checks, an entry in the registry, a doc page
// with the three sections, and a scenario that runs it on real servers. A missing piece fails here.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config.ts';
import { CHECKS, evaluate, pickVariant, rowLevel, selectChecks } from '../../src/monitor/index.ts';
import { SCENARIOS } from './scenarios.ts';

const checksDir = new URL('../../src/monitor/checks/', import.meta.url);
const docsDir = new URL('../../docs/checks/', import.meta.url);

describe('monitor check registry', () => {
  it('lists every check file exactly once, with unique snake_case names', () => {
    const files = readdirSync(checksDir).filter((f) => f.endsWith('.ts') && f !== 'index.ts');
    const index = readFileSync(new URL('index.ts', checksDir), 'utf8');
    for (const file of files) assert.match(index, new RegExp(`from '\\./${file.replace('.', '\\.')}'`), `${file} is not registered`);
    assert.equal(CHECKS.length, files.length);
    assert.equal(new Set(CHECKS.map((c) => c.name)).size, CHECKS.length);
    for (const check of CHECKS) {
      assert.match(check.name, /^[a-z][a-z0-9_]*$/);
      assert.ok(files.includes(`${check.name.replaceAll('_', '-')}.ts`), `${check.name} lives in ${check.name.replaceAll('_', '-')}.ts`);
      assert.ok(check.sql.length > 0 !== Boolean(check.local), `${check.name}: SQL variants or a local check, not both`);
    }
    assert.ok(CHECKS.length >= 30, `${CHECKS.length} checks`);
  });

  it('has a doc page per check (what it measures, why it matters, how to resolve) and no page without a check', () => {
    const pages = readdirSync(docsDir).filter((f) => f.endsWith('.md') && f !== 'README.md');
    assert.deepEqual(pages.sort(), CHECKS.map((c) => `${c.name}.md`).sort());
    const index = readFileSync(new URL('README.md', docsDir), 'utf8');
    for (const check of CHECKS) {
      const page = readFileSync(new URL(`${check.name}.md`, docsDir), 'utf8');
      assert.match(page, new RegExp(`^# ${check.name}\\n`), `${check.name}.md title`);
      for (const section of ['## What it measures', '## Why it matters', '## How to resolve']) {
        assert.ok(page.includes(section), `${check.name}.md lacks "${section}"`);
      }
      assert.ok(index.includes(`[${check.name}](${check.name}.md)`), `docs/checks/README.md links ${check.name}`);
    }
    assert.ok(existsSync(new URL('../../docs/monitor.md', import.meta.url)));
  });

  it('has a test scenario per check', () => {
    const covered = new Set(SCENARIOS.map((s) => s.check));
    for (const check of CHECKS) assert.ok(covered.has(check.name), `${check.name} has no scenario in test/monitor/scenarios.ts`);
    for (const name of covered) assert.ok(CHECKS.some((c) => c.name === name), `scenario for unknown check ${name}`);
  });

  it('picks the SQL for the server version: the highest minimum not above it', () => {
    const checkpoints = CHECKS.find((c) => c.name === 'checkpoints')!;
    assert.match(pickVariant(checkpoints, 150000)!.body, /pg_stat_bgwriter/);
    assert.match(pickVariant(checkpoints, 170000)!.body, /pg_stat_checkpointer/);
    assert.match(pickVariant(checkpoints, 180004)!.body, /pg_stat_checkpointer/);
    assert.equal(pickVariant(CHECKS.find((c) => c.name === 'lock_waits')!, 130000), undefined);
  });

  it('turns values into levels by direction, and a skip or an ignored item never alerts', () => {
    assert.equal(rowLevel(85, { warning: 80, critical: 90, direction: 'above' }), 'warning');
    assert.equal(rowLevel(90, { warning: 80, critical: 90, direction: 'above' }), 'critical');
    assert.equal(rowLevel(85, { warning: 90, critical: 80, direction: 'below' }), 'warning');
    assert.equal(rowLevel(null, { warning: 1, critical: 2, direction: 'above' }), 'ok');
    assert.equal(rowLevel(null, { warning: 1, critical: 2, direction: 'above' }, 'warning'), 'warning');
    const check = CHECKS.find((c) => c.name === 'password_expiry')!;
    const raw = [{ item: 'app', value: 1, detail: 'never expires', skipped: null, metadata: {} }, { item: 'ops', value: 1, detail: 'never expires', skipped: null, metadata: {} }];
    const result = evaluate(check, raw, { ignore: ['app'] }, 1);
    assert.deepEqual(result.rows.map((r) => [r.finding_key, r.level]), [['password_expiry:app', 'ok'], ['password_expiry:ops', 'warning']]);
    assert.equal(result.level, 'warning');
    assert.equal(result.summary, 'ops: never expires');
    const skipped = evaluate(check, [{ item: '', value: null, detail: null, skipped: 'not here', metadata: null }], undefined, 1);
    assert.deepEqual([skipped.level, skipped.summary, skipped.rows.length], ['skipped', 'not here', 0]);
  });

  it('validates monitor settings in pgwarden.yaml', () => {
    const config = parseConfig('monitor:\n  timeout_ms: 2000\n  checks:\n    uptime: { warning: null, params: { x: 1 } }\n');
    assert.equal(config.monitor.timeout_ms, 2000);
    assert.equal(config.monitor.concurrency, 4);
    assert.throws(() => parseConfig('monitor:\n  checks:\n    uptime: { warn: 1 }\n'), /pgwarden\.yaml:3: monitor\.checks\.uptime\.warn: unknown key \(allowed here: enabled, warning, critical, ignore, params\)/);
    assert.throws(() => selectChecks({ settings: { nope: {} } }), /monitor\.checks\.nope: unknown check \(valid: alive,/);
    assert.deepEqual(selectChecks({ settings: { ssl: { enabled: false } } }).length, CHECKS.length - 1);
  });
});
