// The syslog sink against a real rsyslogd (Debian's rsyslog), started by this test on free ports
// with its own configuration: imudp and imtcp receive, mmpstrucdata takes the structured data
// apart, and omfile writes each message as JSON. What arrives is what a SIEM behind rsyslog sees:
// every non-null field of the event (detail, hint, context, query, audit.statement_logged, …), the
// statement or message as MSG.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SyslogSinkConfig } from '../../src/core/config.ts';
import { parseText } from '../../src/logs/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import { build as createSyslogSink, SD_ID } from '../../src/pipeline/sinks/syslog/syslog.ts';
import { waitFor } from '../harness/cli.ts';
import { freePort } from '../harness/postgres.ts';

const log = createLogger('test');

const RSYSLOGD = '/usr/sbin/rsyslogd';
const LONG = `SELECT ${Array.from({ length: 1500 }, (_, i) => `c${i}`).join(', ')} FROM wide`;

// Debian's default log_line_prefix; an error with its DETAIL, HINT, CONTEXT and STATEMENT, and
// pgAudit records (one whose statement was logged before: statement_logged "previously").
const LOG = [
  "2026-11-22 10:00:00.123 UTC [4242] alice@shop LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,\"INSERT INTO orders VALUES (1)\",<none>",
  '2026-11-22 10:00:00.124 UTC [4242] alice@shop LOG:  AUDIT: OBJECT,1,1,WRITE,INSERT,TABLE,public.orders,<previously logged>,<previously logged>',
  '2026-11-22 10:00:02.500 UTC [4244] carol@shop ERROR:  division by zero',
  '2026-11-22 10:00:02.500 UTC [4244] carol@shop CONTEXT:  PL/pgSQL function ratio(integer) line 3 at RETURN',
  '2026-11-22 10:00:02.500 UTC [4244] carol@shop STATEMENT:  SELECT ratio(0)',
  '2026-11-22 10:00:03.000 UTC [4245] dave@shop ERROR:  duplicate key value violates unique constraint "orders_pkey"',
  '2026-11-22 10:00:03.000 UTC [4245] dave@shop DETAIL:  Key (id)=(1) already exists.',
  '2026-11-22 10:00:03.000 UTC [4245] dave@shop HINT:  Pick another id.',
  "2026-11-22 10:00:03.000 UTC [4245] dave@shop STATEMENT:  INSERT INTO orders VALUES (1)",
  `2026-11-22 10:00:04.000 UTC [4246] erin@shop LOG:  AUDIT: SESSION,7,1,READ,SELECT,,,"${LONG}",<none>`,
  '',
].join('\n');

interface Received { msg: string; msgid: string; procid: string; appname: string; hostname: string; sd: Record<string, string> }

describe('syslog sink into a real rsyslogd', () => {
  let dir: string;
  let daemon: ChildProcess;
  let udpPort: number;
  let tcpPort: number;
  const events = parseText(LOG, { input: '/var/log/postgresql/postgresql-15-main.log', server: 'db1', prefix: '%m [%p] %q%u@%d ' }).events;
  const config = (protocol: 'udp' | 'tcp', port: number): SyslogSinkConfig =>
    ({ type: 'syslog', host: '127.0.0.1', port, protocol, facility: 'local3', app_name: 'pgwarden', hostname: 'collector-1', timeout_seconds: 5 });
  // Complete lines only: rsyslog may be writing the last one as the test reads the file.
  const received = (file: string): Received[] => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '').split('\n').slice(0, -1).filter(Boolean).map((line) => {
    const all = JSON.parse(line) as Record<string, unknown> & { 'rfc5424-sd'?: Record<string, Record<string, string>> };
    return { ...(all as unknown as Received), sd: all['rfc5424-sd']?.[SD_ID] ?? {} };
  });

  before(async () => {
    assert.ok(existsSync(RSYSLOGD), `${RSYSLOGD} is missing: run scripts/install-test-deps.sh (apt-get install rsyslog)`);
    assert.equal(events.length, 5, 'two audit records, two errors, one long statement');
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-rsyslog-'));
    udpPort = await freePort();
    tcpPort = await freePort();
    // The settings a receiver for pgwarden needs: messages up to 64 KiB (the default is 8 KiB),
    // and control characters (a statement's new lines) kept rather than escaped as #012.
    writeFileSync(join(dir, 'rsyslog.conf'), `
global(workDirectory="${dir}" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off")
module(load="imudp")
module(load="imtcp")
module(load="mmpstrucdata")
template(name="pgwarden-json" type="list") { property(name="$!") constant(value="\\n") }
ruleset(name="pgwarden") {
  action(type="mmpstrucdata")
  set $!msg = $msg;
  set $!msgid = $msgid;
  set $!procid = $procid;
  set $!appname = $app-name;
  set $!hostname = $hostname;
  if $inputname == "imudp" then { action(type="omfile" file="${dir}/udp.jsonl" template="pgwarden-json") }
  else { action(type="omfile" file="${dir}/tcp.jsonl" template="pgwarden-json") }
}
input(type="imudp" address="127.0.0.1" port="${udpPort}" ruleset="pgwarden")
input(type="imtcp" address="127.0.0.1" port="${tcpPort}" ruleset="pgwarden")
`);
    daemon = spawn(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    daemon.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    await waitFor(() => new Promise<boolean>((resolve) => {
      const socket = connect(tcpPort, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    }), 15_000, `rsyslogd listening (${stderr})`);
  });
  after(async () => {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function check(messages: Received[]) {
    assert.equal(messages.length, 5);
    const [audit, previously, zero, duplicate, long] = messages as [Received, Received, Received, Received, Received];
    assert.equal(audit.msg.replace(/^\uFEFF/, ''), 'INSERT INTO orders VALUES (1)');
    assert.equal(audit.msgid, 'audit');
    assert.equal(audit.procid, '4242');
    assert.equal(audit.hostname, 'collector-1');
    assert.equal(audit.sd.audit_statement_logged, 'yes');
    assert.equal(audit.sd.audit_parameters, '[]');
    assert.equal(audit.sd.message, 'AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,"INSERT INTO orders VALUES (1)",<none>', 'the log message beside the statement');
    assert.equal(audit.sd.audit_statement, undefined, 'the statement once, as the MSG');
    assert.equal(previously.sd.audit_type, 'OBJECT');
    assert.equal(previously.sd.audit_statement_logged, 'previously');
    assert.equal(zero.msg.replace(/^\uFEFF/, ''), 'division by zero');
    assert.equal(zero.sd.query, 'SELECT ratio(0)', 'the statement that failed');
    assert.equal(zero.sd.context, 'PL/pgSQL function ratio(integer) line 3 at RETURN');
    assert.equal(duplicate.sd.detail, 'Key (id)=(1) already exists.');
    assert.equal(duplicate.sd.hint, 'Pick another id.');
    assert.equal(duplicate.sd.query, 'INSERT INTO orders VALUES (1)');
    assert.equal(duplicate.sd.sqlstate, undefined, 'a stderr log has no SQLSTATE: absent fields are left out');
    assert.equal(long.msg.replace(/^\uFEFF/, ''), LONG, `a ${LONG.length}-character statement arrives whole`);
    for (const m of messages) {
      assert.equal(m.sd.source_input, '/var/log/postgresql/postgresql-15-main.log');
      assert.equal(m.sd.server, 'db1');
    }
  }

  it('over TCP (octet counting): every field arrives, the long statement whole', async () => {
    const sink = createSyslogSink({ name: 'siem', config: config('tcp', tcpPort), log });
    await sink.deliver({ events, messageId: 'tcp' });
    await sink.close();
    const messages = await waitFor(async () => { const m = received('tcp.jsonl'); return m.length >= 5 ? m : null; }, 15_000, 'five messages in rsyslog\'s file');
    check(messages);
  });

  it('over UDP (a datagram each)', async () => {
    const sink = createSyslogSink({ name: 'siem', config: config('udp', udpPort), log });
    await sink.deliver({ events, messageId: 'udp' });
    await sink.close();
    const messages = await waitFor(async () => { const m = received('udp.jsonl'); return m.length >= 5 ? m : null; }, 15_000, 'five datagrams in rsyslog\'s file');
    check(messages);
  });

  it('over UDP, a record bigger than a datagram arrives with its longest fields cut, never refused', async () => {
    const [error] = parseText(`2026-11-22 10:00:05.000 UTC [4247] fred@shop ERROR:  syntax error at end of input\n2026-11-22 10:00:05.000 UTC [4247] fred@shop STATEMENT:  ${'SELECT 1 + '.repeat(20_000)}\n`,
      { input: 'big.log', server: 'db1', prefix: '%m [%p] %q%u@%d ' }).events;
    const sink = createSyslogSink({ name: 'siem', config: config('udp', udpPort), log });
    await sink.deliver({ events: [error!], messageId: 'big' });
    await sink.close();
    const big = await waitFor(async () => received('udp.jsonl').find((m) => m.sd.source_input === 'big.log'), 15_000, 'the big datagram');
    assert.equal(big.msg.replace(/^\uFEFF/, ''), 'syntax error at end of input');
    assert.ok(big.sd.query!.startsWith('SELECT 1 + SELECT 1'));
    assert.ok(big.sd.query!.endsWith('…') && big.sd.query!.length < 65_000, `${big.sd.query!.length} characters`);
  });
});
