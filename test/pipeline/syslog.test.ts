// The syslog sink against real local receivers (node:dgram and node:net servers in this test)
// that parse RFC 5424 strictly, over UDP (one message per datagram) and TCP (RFC 6587
// octet counting).
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { SyslogSinkConfig } from '../../src/core/config.ts';
import { parseText } from '../../src/logs/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import { build as createSyslogSink, SD_ID } from '../../src/pipeline/sinks/syslog/syslog.ts';
import { waitFor } from '../harness/cli.ts';

const log = createLogger('test');

interface Syslog {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: Map<string, Map<string, string>>;
  msg: string | null;
}

const PRINTUSASCII = /^[\x21-\x7e]+$/;

/** RFC 5424 §6, strictly: throws on anything the grammar does not allow. */
function parse5424(bytes: Buffer): Syslog {
  const text = bytes.toString('utf8');
  const head = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(text);
  if (!head) throw new Error(`bad header: ${text.slice(0, 80)}`);
  const pri = Number(head[1]);
  if (pri > 191) throw new Error(`PRI out of range: ${pri}`);
  const [timestamp, hostname, appName, procId, msgId] = head.slice(2) as [string, string, string, string, string];
  if (timestamp !== '-' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$/.test(timestamp)) throw new Error(`bad TIMESTAMP ${timestamp}`);
  for (const [field, value, max] of [['HOSTNAME', hostname, 255], ['APP-NAME', appName, 48], ['PROCID', procId, 128], ['MSGID', msgId, 32]] as const) {
    if (!PRINTUSASCII.test(value) || value.length > max) throw new Error(`bad ${field} ${value}`);
  }
  let i = head[0].length;
  const sd = new Map<string, Map<string, string>>();
  if (text[i] === '-') i++;
  else {
    while (text[i] === '[') {
      i++;
      const id = /^[^ =\]"]{1,32}/.exec(text.slice(i));
      if (!id) throw new Error('bad SD-ID');
      i += id[0].length;
      const params = new Map<string, string>();
      while (text[i] === ' ') {
        i++;
        const name = /^([^ =\]"]{1,32})="/.exec(text.slice(i));
        if (!name) throw new Error(`bad PARAM-NAME at ${text.slice(i, i + 40)}`);
        i += name[0].length;
        let value = '';
        for (;;) {
          const c = text[i];
          if (c === undefined) throw new Error('unterminated PARAM-VALUE');
          if (c === '\\' && ['"', '\\', ']'].includes(text[i + 1]!)) { value += text[i + 1]; i += 2; continue; }
          if (c === '"') { i++; break; }
          if (c === ']') throw new Error('unescaped ] in PARAM-VALUE');
          value += c;
          i++;
        }
        params.set(name[1]!, value);
      }
      if (text[i] !== ']') throw new Error(`SD-ELEMENT not closed at ${text.slice(i, i + 40)}`);
      i++;
      sd.set(id[0], params);
    }
    if (sd.size === 0) throw new Error('no STRUCTURED-DATA');
  }
  let msg: string | null = null;
  if (i < text.length) {
    if (text[i] !== ' ') throw new Error('no SP before MSG');
    const rest = bytes.subarray(Buffer.byteLength(text.slice(0, i + 1)));
    if (rest[0] !== 0xef || rest[1] !== 0xbb || rest[2] !== 0xbf) throw new Error('MSG without BOM');
    msg = rest.subarray(3).toString('utf8');
  }
  return { pri, timestamp, hostname, appName, procId, msgId, sd, msg };
}

const LOG = [
  '2026-11-22 10:00:00.123 UTC [4242] alice@shop LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.orders,"INSERT INTO orders VALUES (\'a]b"" \\\\x\', 5)",<none>',
  '2026-11-22 10:00:01.000 UTC [4243] bob@shop FATAL:  password authentication failed for user "bob"',
  '2026-11-22 10:00:02.500 UTC [4244] carol@shop ERROR:  relation "nope" does not exist at character 15',
  '2026-11-22 10:00:02.500 UTC [4244] carol@shop STATEMENT:  SELECT * FROM nope',
  '',
].join('\n');

function config(protocol: 'udp' | 'tcp' | 'tls', port: number): SyslogSinkConfig {
  return { type: 'syslog', host: '127.0.0.1', port, protocol, facility: 'local3', app_name: 'pgwarden', hostname: 'collector-1', timeout_seconds: 5 };
}

describe('syslog sink', () => {
  const events = parseText(LOG, { input: '/var/log/postgresql/postgresql.log', server: 'db1', prefix: '%m [%p] %q%u@%d ' }).events;
  const udpReceived: Syslog[] = [];
  const tcpReceived: Syslog[] = [];
  const udp = createSocket('udp4');
  const tlsReceived: Syslog[] = [];
  /** RFC 6587 octet counting (RFC 5425 uses the same over TLS). */
  const framed = (received: Syslog[]) => (socket: Socket) => {
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space < 0) break;
        const length = buffer.subarray(0, space).toString('ascii');
        if (!/^[1-9]\d*$/.test(length)) throw new Error(`bad octet count ${length}`);
        if (buffer.length < space + 1 + Number(length)) break;
        received.push(parse5424(buffer.subarray(space + 1, space + 1 + Number(length))));
        buffer = buffer.subarray(space + 1 + Number(length));
      }
    });
  };
  const tcp = createServer(framed(tcpReceived));
  // A self-signed certificate for 127.0.0.1, made by openssl for this run.
  const certDir = mkdtempSync(join(tmpdir(), 'pgwarden-syslog-tls-'));
  const [certFile, keyFile] = [join(certDir, 'receiver.crt'), join(certDir, 'receiver.key')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile,
    '-out', certFile, '-subj', '/CN=syslog receiver', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'], { stdio: 'ignore' });
  const tls = createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, framed(tlsReceived));

  before(async () => {
    assert.equal(events.length, 3);
    udp.on('message', (message) => udpReceived.push(parse5424(message)));
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
  });
  after(() => {
    udp.close();
    tcp.close();
    tls.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  function check(received: Syslog[]) {
    assert.equal(received.length, 3);
    const [auditMsg, authMsg, errorMsg] = received as [Syslog, Syslog, Syslog];
    // local3 = 19: audit LOG -> info (6), FATAL -> err (3), ERROR -> warning (4)
    assert.deepEqual(received.map((m) => m.pri), [19 * 8 + 6, 19 * 8 + 3, 19 * 8 + 4]);
    assert.equal(auditMsg.timestamp, '2026-11-22T10:00:00.123+00:00');
    assert.equal(auditMsg.hostname, 'collector-1');
    assert.equal(auditMsg.appName, 'pgwarden');
    assert.equal(auditMsg.procId, '4242');
    assert.equal(auditMsg.msgId, 'audit');
    const sd = auditMsg.sd.get(SD_ID)!;
    assert.equal(sd.get('kind'), 'audit');
    assert.equal(sd.get('user'), 'alice');
    assert.equal(sd.get('database'), 'shop');
    assert.equal(sd.get('server'), 'db1');
    assert.equal(sd.get('audit_class'), 'WRITE');
    assert.equal(sd.get('audit_command'), 'INSERT');
    assert.equal(sd.get('audit_object_name'), 'public.orders');
    assert.equal(sd.get('source_input'), '/var/log/postgresql/postgresql.log');
    assert.equal(sd.get('source_position'), '0');
    assert.equal(auditMsg.msg, "INSERT INTO orders VALUES ('a]b\" \\\\x', 5)", 'the statement is the MSG, byte for byte');
    assert.equal(authMsg.msgId, 'auth_failed');
    assert.equal(authMsg.sd.get(SD_ID)!.get('sqlstate'), undefined, 'absent fields are left out');
    assert.equal(errorMsg.msgId, 'error');
    assert.match(errorMsg.msg!, /relation "nope" does not exist/);
  }

  it('sends RFC 5424 over UDP', async () => {
    const sink = createSyslogSink({ name: 'siem', config: config('udp', (udp.address() as AddressInfo).port), log });
    await sink.deliver({ events, messageId: 'm1' });
    await waitFor(async () => udpReceived.length >= 3, 5000, 'three datagrams');
    check(udpReceived);
    await sink.close();
  });

  it('sends a detection alert (detect.in_collect) as one message: MSGID alert, the incident as structured data, the summary as MSG', async () => {
    const sink = createSyslogSink({ name: 'siem', config: config('tcp', (tcp.address() as AddressInfo).port), log });
    const before = tcpReceived.length;
    const alert = {
      rule: 'brute_force', severity: 'high' as const, state: 'open' as const, id: 'abc123', server: 'db1', first_ts: '2026-11-22T10:00:00.000+00:00',
      last_ts: '2026-11-22T10:00:05.000+00:00', count: 6, user: 'victim]"', database: 'postgres', client_addr: '203.0.113.9', application: null,
      group: {}, summary: '6 failed logins for victim from 203.0.113.9', tags: ['attack:T1110.001', 'pci_dss:8.3.4'], events: [], sessions: [], notices: 1, responses: [],
    };
    await sink.deliverAlert!({ notice: { notice: 'opened', id: 'abc123:1', alert }, messageId: 'abc123:1' });
    await waitFor(async () => tcpReceived.length > before, 5000, 'the alert');
    const message = tcpReceived[before]!;
    assert.equal(message.pri, 19 * 8 + 3, 'high is err');
    assert.equal(message.msgId, 'alert');
    assert.equal(message.timestamp, '2026-11-22T10:00:05.000+00:00');
    const sd = message.sd.get(SD_ID)!;
    assert.equal(sd.get('delivery_id'), 'abc123:1');
    assert.equal(sd.get('rule'), 'brute_force');
    assert.equal(sd.get('user'), 'victim]"', 'a client-chosen role name cannot break out of the structured data');
    assert.equal(sd.get('count'), '6');
    assert.equal(sd.get('application'), undefined);
    assert.equal(message.msg, alert.summary);
    tcpReceived.splice(before);
    await sink.close();
  });

  it('sends RFC 5424 over TCP with octet counting, and fails (to retry) when nobody listens', async () => {
    const sink = createSyslogSink({ name: 'siem', config: config('tcp', (tcp.address() as AddressInfo).port), log });
    await sink.deliver({ events, messageId: 'm1' });
    await waitFor(async () => tcpReceived.length >= 3, 5000, 'three framed messages');
    check(tcpReceived);
    await sink.close();
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const down = createSyslogSink({ name: 'down', config: config('tcp', port), log });
    await assert.rejects(down.deliver({ events, messageId: 'm2' }), /syslog tcp:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    await down.close();
  });

  it('sends over TLS (RFC 5425) to a receiver whose certificate it trusts, and refuses one it does not', async () => {
    const port = (tls.address() as AddressInfo).port;
    const sink = createSyslogSink({ name: 'siem', config: { ...config('tls', port), tls: { ca_file: certFile } }, log });
    await sink.deliver({ events, messageId: 'm1' });
    await waitFor(async () => tlsReceived.length >= 3, 5000, 'three framed messages over TLS');
    check(tlsReceived);
    await sink.close();
    const untrusting = createSyslogSink({ name: 'siem', config: config('tls', port), log });
    await assert.rejects(untrusting.deliver({ events, messageId: 'm2' }), /syslog tls:\/\/127\.0\.0\.1:\d+: self-signed certificate/);
    await untrusting.close();
    assert.equal(tlsReceived.length, 3, 'nothing sent to an unverified receiver');
    assert.throws(() => createSyslogSink({ name: 'siem', config: { ...config('tls', port), tls: { ca_file: join(certDir, 'missing.pem') } }, log }),
      /pipeline\.sinks\.siem\.tls\.ca_file: cannot read .*missing\.pem/);
    assert.throws(() => createSyslogSink({ name: 'siem', config: { ...config('tcp', port), tls: { ca_file: certFile } }, log }), /tls: only with protocol: tls/);
  });
});
