// `pgwarden detect` as a user runs it: what it prints, on which stream, and its exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runCli } from '../harness/cli.ts';

const PREFIX = '%m [%p] %q%u@%d ';

describe('pgwarden detect', () => {
  let dir: string;
  const file = (name: string, text: string | Buffer) => {
    const at = path.join(dir, name);
    writeFileSync(at, text);
    return at;
  };
  const failures = Array.from({ length: 6 }, (_, i) => `2026-11-23 10:00:0${i}.000 UTC [${900 + i}] eve@shop FATAL:  password authentication failed for user "eve"\n`
    + `2026-11-23 10:00:0${i}.000 UTC [${900 + i}] eve@shop DETAIL:  Connection matched pg_hba.conf line 91: "host all all 0.0.0.0/0 scram-sha-256"\n`).join('');

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-detect-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the rules in force as a table and as JSON', async () => {
    const table = await runCli(['detect', 'rules']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^rule\s+type\s+state\s+severity\s+settings\s+actions\s+attack$/);
    assert.equal(lines.length, 2 + 14);
    assert.match(table.stdout, /sensitive_read\s+match\s+inactive: detect\.sensitive_objects is empty/);
    const config = file('rules.yaml', `detect:\n  sensitive_objects: ['hr.*']\n  rules:\n    dormant_role_login: { enabled: false }\n  custom_rules:\n    copy_out:\n      description: COPY anything\n      type: match\n      match: { commands: [COPY] }\n`);
    const json = await runCli(['--config', config, 'detect', 'rules', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const rules = JSON.parse(json.stdout) as { rule: string; enabled: boolean; inactive: string | null; builtin: boolean; compliance: { pci_dss: string[] } }[];
    assert.equal(rules.length, 15);
    assert.equal(rules.find((r) => r.rule === 'sensitive_read')!.inactive, null);
    assert.equal(rules.find((r) => r.rule === 'dormant_role_login')!.enabled, false);
    assert.deepEqual(rules.at(-1)!.rule, 'copy_out');
    assert.ok(rules.find((r) => r.rule === 'brute_force')!.compliance.pci_dss.includes('10.2.1.4'));
  });

  it('replays a log into one JSON alert per incident, with the summary on standard error, exit 0', async () => {
    const log = file('postgresql.log.gz', gzipSync(failures));
    const run = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, log]);
    assert.equal(run.code, 0, run.stderr);
    const alerts = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(alerts.length, 1);
    assert.deepEqual([alerts[0].rule, alerts[0].state, alerts[0].count, alerts[0].user, alerts[0].server], ['brute_force', 'open', 6, 'eve', 'db1']);
    assert.deepEqual(Object.keys(alerts[0]).slice(0, 14), ['rule', 'severity', 'state', 'id', 'server', 'first_ts', 'last_ts', 'count', 'user', 'database', 'client_addr', 'application', 'group', 'summary']);
    assert.deepEqual(alerts[0].events[0], { input: log, position: 0 });
    assert.match(run.stderr, /^replayed 1 input, 0\.0 MB, 6 events in [\d.]+ s \(\d+ events\/s\): 1 alert \(brute_force 1\)\n/);
    assert.match(run.stderr, /inactive: sensitive_read \(detect\.sensitive_objects is empty\)/);
    const quiet = await runCli(['detect', 'replay', '--prefix', PREFIX, file('quiet.log', failures.split('\n').slice(0, 4).join('\n') + '\n')]);
    assert.deepEqual([quiet.code, quiet.stdout], [0, ''], 'no alert is not an error');
    assert.match(quiet.stderr, /: 0 alerts\n/);
  });

  it('reads its own JSON lines back, counting what is not an event, and never stops for it', async () => {
    const parsed = await runCli(['parse', '--prefix', PREFIX, file('p.log', failures)]);
    const events = file('events.ndjson', `${parsed.stdout}{"kind":"nonsense"}\nnot json\n`);
    const run = await runCli(['detect', 'replay', events]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim().split('\n').length, 1);
    assert.match(run.stderr, new RegExp(`parse error: ${events.replaceAll('/', '\\/')}:7 \\(byte \\d+\\): kind "nonsense" is not one of`));
    assert.match(run.stderr, /parse error: .*:8 .*not JSON/);
    assert.match(run.stderr, /2 parse errors/);
  });

  it('refuses a missing input and a bad config with a one-line error and exit 2', async () => {
    const missing = await runCli(['detect', 'replay', path.join(dir, 'nope.csv')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^Error: cannot read .*nope\.csv: no such file\n.*\[PGW_ERR_INPUT\]\n$/);
    const config = file('bad.yaml', 'detect:\n  rules:\n    brute_force:\n      window: 5 minutes\n');
    const bad = await runCli(['--config', config, 'detect', 'replay', file('x.log', failures)]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Error: .*bad\.yaml:4: detect\.rules\.brute_force\.window: a duration such as 30s, 5m, 2h or 7d\n/);
    assert.equal(bad.stdout, '');
    const format = await runCli(['detect', 'replay', '--format', 'xml', file('y.log', failures)]);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /argument 'xml' is invalid\. Allowed choices are auto, stderr, csvlog, jsonlog, events/);
  });
});
