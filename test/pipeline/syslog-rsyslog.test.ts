// The syslog source fed by real software: a PostgreSQL 15 + pgAudit with log_destination =
// 'syslog,csvlog' writes to /dev/log (in a private mount namespace where /dev/log is this
// test's rsyslogd socket: test/harness/dev-log.ts), and Debian's rsyslogd forwards
// every message with omfwd to pgwarden's listeners: TCP octet-counted (RFC 5424 format), TCP
// with LF framing (rsyslog's forward format), UDP (the traditional RFC 3164 forward format) and
// TLS with the gtls driver and client certificates (RFC 5425; certificates made here with
// openssl). The independent reading is the same server's csvlog: the events from each
// transport must equal its events, field by field.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { parseConfig } from '../../src/core/config.ts';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { parseText } from '../../src/logs/index.ts';
import { runGraph, type Running } from '../../src/pipeline/graph.ts';
import { createSink, createSources } from '../../src/pipeline/build.ts';
import type { SyslogSource } from '../../src/pipeline/sources/syslog/syslog.ts';
import { waitFor } from '../harness/cli.ts';
import { restartWithDevLog } from '../harness/dev-log.ts';
import { freePort, startCluster, type Cluster } from '../harness/postgres.ts';
import { readEvents } from './collect-helpers.ts';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const GTLS = '/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so';
const PREFIX = '%m [%p] %c [%b] %q%u@%d [%a] %r %e ';
const END_MARK = 'end of the pgwarden syslog source test';
const WIDE = `SELECT ${Array.from({ length: 300 }, (_, i) => `${i} AS c${i}`).join(', ')}`;
const TRANSPORTS = ['tcp_octets', 'tcp_lf', 'udp', 'tls'] as const;
type Transport = (typeof TRANSPORTS)[number];

function comparable(event: PgwardenEvent): string {
  return JSON.stringify({ ...event, source: undefined, session_line: undefined, server: undefined });
}

/** A CA, a server certificate for localhost and a client certificate, with openssl. */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=pgwarden test CA');
  for (const name of ['server', 'client']) {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'localhost' : 'db-client'}`);
    writeFileSync(path.join(dir, `${name}.ext`), name === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
}

describe('syslog source: a real rsyslogd forwarding a real PostgreSQL 15 over TCP, UDP and TLS', () => {
  let cluster: Cluster;
  let dir: string;
  let daemon: ChildProcess;
  let running: Running;
  let sources: Record<Transport, SyslogSource>;
  let ports: Record<Transport, number>;
  let csv: PgwardenEvent[] = [];

  before(async () => {
    assert.ok(existsSync(RSYSLOGD), `${RSYSLOGD} is missing: run scripts/install-test-deps.sh (apt-get install rsyslog)`);
    assert.ok(existsSync(GTLS), `${GTLS} is missing: run scripts/install-test-deps.sh (apt-get install rsyslog-gnutls)`);
    dir = mkdtempSync(path.join(tmpdir(), 'pgwarden-syslog-fwd-'));
    makeCertificates(dir);
    ports = { tcp_octets: await freePort(), tcp_lf: await freePort(), udp: await freePort(), tls: await freePort() };

    // pgwarden listens first: rsyslog suspends an action whose first connection fails
    const config = parseConfig(JSON.stringify({
      pipeline: {
        sources: {
          tcp_octets: { type: 'syslog', tcp_port: ports.tcp_octets, allow: ['127.0.0.1/32'], prefix: PREFIX },
          tcp_lf: { type: 'syslog', tcp_port: ports.tcp_lf, allow: ['127.0.0.1/32'], prefix: PREFIX },
          udp: { type: 'syslog', udp_port: ports.udp, allow: ['127.0.0.1/32'], prefix: PREFIX },
          tls: {
            type: 'syslog', tls_port: ports.tls, allow: ['127.0.0.1/32'], prefix: PREFIX,
            tls: { cert_file: path.join(dir, 'server.pem'), key_file: path.join(dir, 'server.key'), ca_file: path.join(dir, 'ca.pem') },
          },
        },
        sinks: Object.fromEntries(TRANSPORTS.map((t) => [`out_${t}`, { type: 'jsonl', path: path.join(dir, `${t}.jsonl`), fsync: false, inputs: [t] }])),
        batch: { window_seconds: 0, max_events: 500 },
      },
    }));
    const log = pino({ level: 'warn' }, pino.destination(2));
    const built = await Promise.all(TRANSPORTS.map(async (t) => (await createSources(t, config.pipeline.sources[t]!, config, log))[0] as SyslogSource));
    sources = Object.fromEntries(TRANSPORTS.map((t, i) => [t, built[i]!])) as Record<Transport, SyslogSource>;
    running = await runGraph({ sources: built, sinks: await Promise.all(Object.entries(config.pipeline.sinks).map(([name, sink]) => createSink(name, sink, config, log))) }, config.pipeline, log);

    const socket = path.join(dir, 'log.sock');
    writeFileSync(path.join(dir, 'rsyslog.conf'), `
global(workDirectory="${dir}" DefaultNetstreamDriverCAFile="${dir}/ca.pem" DefaultNetstreamDriverCertFile="${dir}/client.pem" DefaultNetstreamDriverKeyFile="${dir}/client.key")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="${socket}" CreatePath="on" RateLimit.Interval="0")
action(type="omfwd" target="127.0.0.1" port="${ports.tcp_octets}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfwd" target="127.0.0.1" port="${ports.tcp_lf}" protocol="tcp" template="RSYSLOG_ForwardFormat")
action(type="omfwd" target="127.0.0.1" port="${ports.udp}" protocol="udp" template="RSYSLOG_TraditionalForwardFormat")
action(type="omfwd" target="127.0.0.1" port="${ports.tls}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
  StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost")
`);
    daemon = spawn(RSYSLOGD, ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitFor(async () => existsSync(socket), 10_000, 'rsyslogd to create its socket');

    cluster = await startCluster({
      flavor: 'pg15', pgaudit: true, settings: {
        log_destination: "'syslog,csvlog'", logging_collector: 'on', log_line_prefix: `'${PREFIX}'`, syslog_ident: "'postgres'",
        log_connections: 'on', log_disconnections: 'on', 'pgaudit.log': "'read,write,role'", 'pgaudit.log_parameter': 'on', log_statement: "'all'",
      },
    });
    restartWithDevLog(cluster, socket, dir);

    await cluster.query('CREATE TABLE t(id int PRIMARY KEY, note text)');
    await cluster.createRole('app user', 'pw1', '');
    await cluster.query('GRANT ALL ON t TO "app user"');
    const app = new pg.Client({ connectionString: cluster.url('postgres', 'app user', 'pw1'), application_name: 'app #011 [2-1 x' });
    await app.connect();
    await app.query('INSERT INTO t VALUES ($1, $2)', [1, 'a,"b"\nc é✓']);
    await app.query('SELECT id\nFROM t\nWHERE note IS NOT NULL');
    await app.query(WIDE);
    await assert.rejects(app.query('INSERT INTO t VALUES (1)'), { code: '23505' });
    await app.end();
    const bad = new pg.Client({ connectionString: cluster.url('postgres', 'app user', 'wrong') });
    bad.on('error', () => undefined);
    await assert.rejects(bad.connect(), { code: '28P01' });
    await cluster.query(`SELECT '${END_MARK}'`);

    const logDir = path.join(cluster.dataDir, 'log');
    await waitFor(async () => {
      const csvFile = existsSync(logDir) ? readdirSync(logDir).find((n) => n.endsWith('.csv')) : undefined;
      const csvText = csvFile ? readFileSync(path.join(logDir, csvFile), 'utf8') : '';
      csv = parseText(csvText, { format: 'csvlog' }).events;
      const disconnections = csv.filter((e) => e.kind === 'disconnection').length;
      return disconnections >= 3 && TRANSPORTS.every((t) => readEvents(path.join(dir, `${t}.jsonl`)).filter((e) => e.kind === 'disconnection').length >= disconnections);
    }, 30_000, 'the csvlog and every transport to hold the whole run');
  });
  after(async () => {
    // rsyslogd first: it would keep reconnecting to the listeners as they close
    daemon?.kill();
    await running?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives the events of the csvlog, field by field, over each transport', async () => {
    const first = csv[0]!.ts!;
    const last = csv.at(-1)!.ts!;
    // the postmaster's records before and after the logging collector runs are only in syslog
    const kept = (e: PgwardenEvent) => e.backend_type !== 'postmaster' || (e.ts! > first && e.ts! < last);
    const truth = csv.filter(kept).map(comparable).sort();
    assert.ok(truth.length > 20, `${truth.length} records`);
    // the last records may still be on their way (a record is complete once its process is quiet)
    await waitFor(async () => TRANSPORTS.every((t) => readEvents(path.join(dir, `${t}.jsonl`)).filter(kept).length >= truth.length), 15_000, 'every record over every transport');
    for (const t of TRANSPORTS) {
      const events = readEvents(path.join(dir, `${t}.jsonl`));
      assert.deepEqual(events.filter(kept).map(comparable).sort(), truth, t);
      assert.ok(events.every((e) => e.source.input.startsWith('syslog:') && e.source.line === null), t);
      const wide = events.find((e) => e.message === `statement: ${WIDE}`);
      assert.ok(wide, `${t}: the 900-byte chunks of the wide statement joined`);
      const stats = sources[t].stats;
      assert.equal(stats.parse_errors + stats.not_read + stats.bad_frames + stats.oversized, 0, `${t}: ${JSON.stringify(stats)}`);
      assert.equal(stats.sequence_missing, 0, t);
    }
  });

  it('records have the same identity whatever the transport: each sent again is one row in a repository', () => {
    const keys = (t: Transport) => new Set(readEvents(path.join(dir, `${t}.jsonl`)).map((e) => `${e.ts}|${e.source.input}|${e.source.position}`));
    const reference = keys('tcp_octets');
    for (const t of TRANSPORTS) assert.deepEqual(keys(t), reference, t);
    assert.equal(reference.size, readEvents(path.join(dir, 'tcp_octets.jsonl')).length, 'no two records share an identity');
  });

  it('TLS refuses a sender without a client certificate, and counts it', async () => {
    const before = sources.tls.stats.tls_errors;
    const socket = tlsConnect({ port: ports.tls, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(path.join(dir, 'ca.pem')) });
    socket.on('error', () => undefined);
    socket.write('5 <13>x');
    await new Promise((resolve) => socket.once('close', resolve));
    await waitFor(async () => sources.tls.stats.tls_errors > before, 5000, 'the failed handshake counted');
  });
});
