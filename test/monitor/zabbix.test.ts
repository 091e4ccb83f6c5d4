// `pgwarden check --format zabbix` sent with Debian's zabbix_sender to a real Zabbix 6.0 server
// (zabbix-server-pgsql, its own database on a disposable PostgreSQL). The host has the trapper
// items and discovery rules docs/monitor.md describes; the first send makes Zabbix create the
// items from the prototypes, the second must be processed whole: "failed: 0".
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { runCli, pgEnv, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { installInto, LOGIN, LOGIN_PASSWORD } from './scenarios.ts';

const SCHEMA = '/usr/share/zabbix-server-pgsql';
const HOST = 'pgwarden-db1';

/** The template docs/monitor.md describes, written straight into Zabbix's database (no frontend here). */
const ITEMS = [
  { id: 990001, key: 'pgwarden.discovery.status', type: 4, flags: 1 },
  { id: 990002, key: 'pgwarden.discovery.value', type: 4, flags: 1 },
  { id: 990003, key: 'pgwarden.status[{#CHECK},{#ITEM}]', type: 0, flags: 2, rule: 990001 },
  { id: 990004, key: 'pgwarden.value[{#CHECK},{#ITEM}]', type: 0, flags: 2, rule: 990002 },
  { id: 990005, key: 'pgwarden.state', type: 0, flags: 0 },
  { id: 990006, key: 'pgwarden.error', type: 4, flags: 0 },
];

/** A free TCP port Zabbix accepts: its ListenPort stops at 32767, below the ephemeral range freePort() draws from. */
async function lowFreePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

function send(file: string, port: number): { processed: number; failed: number; total: number; output: string } {
  const result = spawnSync('zabbix_sender', ['-z', '127.0.0.1', '-p', String(port), '-s', HOST, '-i', file], { encoding: 'utf8' });
  const m = /processed: (\d+); failed: (\d+); total: (\d+)/.exec(result.stdout);
  assert.ok(m, `zabbix_sender: ${result.stdout}${result.stderr}`);
  return { processed: Number(m[1]), failed: Number(m[2]), total: Number(m[3]), output: result.stdout };
}

describe('pgwarden check --format zabbix into a real Zabbix server', () => {
  let zabbixDb: Cluster;
  let monitored: Cluster;
  let dir: string;
  let server: ReturnType<typeof spawn> | undefined;
  let trapperPort: number;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-zabbix-'));
    [zabbixDb, monitored] = await Promise.all([startCluster({ flavor: 'pg15' }), startCluster({ flavor: 'pg18' })]);
    await zabbixDb.query("CREATE ROLE zabbix LOGIN PASSWORD 'zabbix-pw'");
    await zabbixDb.query('CREATE DATABASE zabbix OWNER zabbix');
    const zabbix = new pg.Client({ connectionString: zabbixDb.url('zabbix', 'zabbix', 'zabbix-pw') });
    await zabbix.connect();
    try {
      for (const file of ['schema.sql.gz', 'images.sql.gz', 'data.sql.gz']) await zabbix.query(gunzipSync(readFileSync(path.join(SCHEMA, file))).toString('utf8'));
      await zabbix.query(`INSERT INTO hosts (hostid, host, name, status) VALUES (990000, '${HOST}', '${HOST}', 0)`);
      for (const item of ITEMS) {
        await zabbix.query(`INSERT INTO items (itemid, type, hostid, name, name_upper, key_, value_type, flags, delay) VALUES ($1, 2, 990000, $2::text, upper($2::text), $2::text, $3, $4, '0')`,
          [item.id, item.key, item.type, item.flags]);
        if (item.rule) await zabbix.query('INSERT INTO item_discovery (itemdiscoveryid, itemid, parent_itemid) VALUES ($1, $1, $2)', [item.id, item.rule]);
        else await zabbix.query('INSERT INTO item_rtdata (itemid) VALUES ($1)', [item.id]);
      }
    } finally {
      await zabbix.end();
    }
    trapperPort = await lowFreePort();
    writeFileSync(path.join(dir, 'zabbix_server.conf'), [
      `ListenIP=127.0.0.1`, `ListenPort=${trapperPort}`, `DBHost=127.0.0.1`, `DBPort=${zabbixDb.port}`, 'DBName=zabbix', 'DBUser=zabbix',
      'DBPassword=zabbix-pw', `LogFile=${dir}/server.log`, `PidFile=${dir}/server.pid`, `SocketDir=${dir}`, 'AllowRoot=1',
      'CacheUpdateFrequency=1', 'StartPollers=1', 'StartPollersUnreachable=1', 'StartPingers=0', 'StartDiscoverers=0', 'StartHTTPPollers=0',
      'StartTrappers=2', 'StartLLDProcessors=1', 'StartPreprocessors=1', 'StartDBSyncers=1', 'HousekeepingFrequency=0', 'StartAlerters=1',
      'StartVMwareCollectors=0', 'StartReportWriters=0', 'StartODBCPollers=0', 'StartHistoryPollers=1',
    ].join('\n') + '\n');
    server = spawn('/usr/sbin/zabbix_server', ['-f', '-c', path.join(dir, 'zabbix_server.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    server.stdout!.on('data', (d: Buffer) => { printed += d.toString(); });
    server.stderr!.on('data', (d: Buffer) => { printed += d.toString(); });
    const log = () => { try { return readFileSync(path.join(dir, 'server.log'), 'utf8'); } catch { return printed; } };
    await waitFor(async () => {
      assert.equal(server!.exitCode, null, `zabbix_server exited: ${log()}`);
      return /server #\d+ started \[trapper/.test(log());
    }, 60_000, 'zabbix_server started')
      .catch((error: Error) => { throw new Error(`${error.message}; its log ends: ${log().slice(-1500)}`); });
    await monitored.createRole(LOGIN, LOGIN_PASSWORD);
    await installInto(monitored, 'postgres');
  });

  after(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => { server!.once('exit', resolve); setTimeout(resolve, 10_000).unref(); });
    }
    await Promise.all([zabbixDb?.stop(), monitored?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the second send is processed whole: every key is one Zabbix created from the prototypes', async () => {
    const login = pgEnv(monitored, 'postgres', LOGIN, LOGIN_PASSWORD);
    const output = async () => {
      const result = await runCli(['check', '--format', 'zabbix'], login);
      assert.equal(result.code, 0, result.stderr);
      const file = path.join(dir, `sender-${Date.now()}.txt`);
      writeFileSync(file, result.stdout);
      return { file, lines: result.stdout.trimEnd().split('\n').length };
    };
    const first = send((await output()).file, trapperPort);
    assert.ok(first.processed >= 4, `discovery and plain items accepted: ${first.output}`);
    const zabbix = new pg.Client({ connectionString: zabbixDb.url('zabbix', 'zabbix', 'zabbix-pw') });
    await zabbix.connect();
    try {
      // Items the LLD rules created (flags 4), then the configuration cache picks them up.
      let created = 0;
      await waitFor(async () => {
        const count = Number((await zabbix.query<{ n: string }>('SELECT count(*) AS n FROM items WHERE hostid = 990000 AND flags = 4')).rows[0]!.n);
        const stable = count > 0 && count === created;
        created = count;
        return stable;
      }, 60_000, 'items discovered');
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const errors = (await zabbix.query<{ error: string }>("SELECT error FROM item_rtdata WHERE itemid IN (990001, 990002) AND error <> ''")).rows;
      assert.deepEqual(errors, [], 'the discovery rules report no error (no prototype Zabbix could not apply)');
      const second = await output();
      const result = send(second.file, trapperPort);
      console.log(`zabbix_sender, second send of ${second.lines} lines: processed ${result.processed}, failed ${result.failed}, total ${result.total}; ${created} items discovered`);
      assert.equal(result.failed, 0, result.output);
      assert.equal(result.processed, second.lines);
    } finally {
      await zabbix.end();
    }
  });
});
