// The fleet end to end on a real `nats-server -js` (test/harness/nats.ts) and a real repository:
// a collector (`pgwarden collect`: two servers' log directories -> nats sink) publishes to
// JetStream, a writer (`pgwarden collect`: nats source -> repository sink) stores. Both are
// killed with kill -9 in the middle and restarted; in the end the stream holds each event once
// (JetStream's dedup on the message id) and the repository exactly the events published.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { startNats, type NatsServer } from '../harness/nats.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { lines, startCollect } from './collect-helpers.ts';

describe('fleet through NATS JetStream', () => {
  let nats: NatsServer;
  let cluster: Cluster;
  let nc: NatsConnection;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-fleet-'));
    [nats, cluster] = await Promise.all([startNats(), startCluster({ flavor: 'pg18' })]);
    await cluster.createDatabase('repo');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo')]);
    assert.equal(migrate.code, 0, migrate.stderr);
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc?.close();
    await nats?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores exactly the events published, with the writer and the collector killed mid-stream', async () => {
    const perServer = 10_000;
    for (const server of ['db1', 'db2']) {
      mkdirSync(join(dir, server));
      // two files per server; statement ids are unique per server
      writeFileSync(join(dir, server, 'postgresql-1.log'), lines(1, perServer / 2, { user: server === 'db1' ? 'alice' : 'bob' }));
    }
    const url = new URL(cluster.url('repo'));
    url.password = '';
    process.env.TEST_REPO_PASSWORD = cluster.superuserPassword;
    const collectorConfig = join(dir, 'collector.yaml');
    writeFileSync(collectorConfig, `pipeline:
  sources:
${['db1', 'db2'].map((server) => `    ${server}: { type: logfile, path: ${join(dir, server)}, pattern: 'postgresql-*.log', server: ${server}, state_dir: ${join(dir, 'state')}, idle_flush_ms: 200, poll_ms: 100 }`).join('\n')}
  sinks:
    fleet: { type: nats, servers: ['${nats.url}'] }
  batch: { window_seconds: 0, max_events: 100 }
`);
    const writerConfig = join(dir, 'writer.yaml');
    writeFileSync(writerConfig, `pipeline:
  sources:
    fleet: { type: nats, servers: ['${nats.url}'], ack_wait_seconds: 2 }
  sinks:
    repo: { type: repository, url: '${url.toString()}', password_env: TEST_REPO_PASSWORD }
  batch: { window_seconds: 0, max_events: 500 }
  retry: { initial_seconds: 0.2, max_seconds: 1 }
`);
    const jsm = await jetstreamManager(nc);
    const published = async () => (await jsm.streams.info('PGWARDEN_EVENTS').catch(() => null))?.state.messages ?? 0;
    /** Every event in the stream, read with an ordered consumer. */
    const streamEvents = async () => {
      const result = { messages: 0, events: 0, keys: 0, bySubject: {} as Record<string, number> };
      const keys = new Set<string>();
      const messages = await jetstream(nc).consumers.get('PGWARDEN_EVENTS').then((c) => c.consume());
      for await (const msg of messages) {
        const events = msg.string().split('\n').filter(Boolean).map((line) => JSON.parse(line) as PgwardenEvent).filter((e) => e.source);
        result.messages++;
        result.events += events.length;
        result.bySubject[msg.subject] = (result.bySubject[msg.subject] ?? 0) + events.length;
        for (const e of events) keys.add(`${e.ts}|${e.source.input}|${e.source.position}`);
        if (msg.info.pending === 0) break;
      }
      result.keys = keys.size;
      return result;
    };
    const stored = async () => (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden_repo.events', [], 'repo')).rows[0]!.n;

    // the writer first: it waits for the stream the collector makes
    let writer = startCollect(writerConfig);
    let collector = startCollect(collectorConfig);
    await waitFor(async () => (await published()) >= 40, 60_000, '40 messages (4000 events) published');
    assert.equal(await collector.stop('SIGKILL'), 'SIGKILL');
    const publishedAtKill = await published();
    // someone else's message on the subjects: the writer terminates it, and stores nothing of it
    await jetstream(nc).publish('pgwarden.events.db1', '{"temperature": 21.5}');
    for (const server of ['db1', 'db2']) {
      writeFileSync(join(dir, server, 'postgresql-2.log'), lines(perServer / 2 + 1, perServer, { user: server === 'db1' ? 'alice' : 'bob' }));
    }
    collector = startCollect(collectorConfig);

    // Killed while it holds messages it has not acknowledged (a writer that keeps up is often idle).
    await waitFor(async () => (await stored()) >= 6000
      && (await jsm.consumers.info('PGWARDEN_EVENTS', 'pgwarden-repository')).num_ack_pending > 0, 60_000, '6000 events stored, more taken');
    assert.equal(await writer.stop('SIGKILL'), 'SIGKILL');
    const firstWriterLog = writer.stderr();
    const storedAtKill = await stored();
    writer = startCollect(writerConfig);

    const total = 2 * perServer;
    await waitFor(async () => (await stored()) >= total, 90_000, `all ${total} events stored`);
    // events the killed writer had taken come back after ack_wait (2 s): they must change nothing
    const consumer = await waitFor(async () => {
      const info = await jsm.consumers.info('PGWARDEN_EVENTS', 'pgwarden-repository');
      return info.num_pending === 0 && info.num_ack_pending === 0 && info;
    }, 30_000, 'every event acknowledged');
    // deliveries beyond the messages: what the killed writer had taken, sent again
    const again = consumer.delivered.consumer_seq - consumer.delivered.stream_seq;
    assert.ok(again > 0, 'messages the killed writer had taken were delivered again');
    assert.match(firstWriterLog + writer.stderr(), /"poison_total":1,"msg":"a message on the stream is not pgwarden events; terminated/);
    assert.equal(await writer.stop('SIGTERM'), 0, writer.stderr());
    assert.equal(await collector.stop('SIGTERM'), 0, collector.stderr());

    const inStream = await streamEvents();
    assert.equal(inStream.events, total, 'JetStream kept each event once, the collector\'s re-sent batch included');
    assert.equal(inStream.keys, total);
    assert.deepEqual(inStream.bySubject, { 'pgwarden.events.db1': perServer, 'pgwarden.events.db2': perServer });
    const { rows: [counts] } = await cluster.query<{ n: number; keys: number; db1: number; db2: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (ts, source_input, source_position))::int AS keys,
              count(DISTINCT statement_id) FILTER (WHERE server = 'db1')::int AS db1,
              count(DISTINCT statement_id) FILTER (WHERE server = 'db2')::int AS db2
         FROM pgwarden_repo.events`, [], 'repo');
    assert.deepEqual(counts, { n: inStream.events, keys: total, db1: perServer, db2: perServer });
    assert.ok(publishedAtKill < inStream.messages && storedAtKill < total, `killed mid-stream (published ${publishedAtKill} messages, stored ${storedAtKill})`);
    process.stdout.write(`# collector kill -9 at ${publishedAtKill} messages published, writer kill -9 at ${storedAtKill} stored, ${again} messages delivered again; repository ${counts!.n} = published ${inStream.events} (in ${inStream.messages} messages)\n`);
  });

  it('stops at start, in one line, when NATS refuses the credentials', async () => {
    const secured = await startNats({ user: 'pgwarden', password: 'right-password' });
    try {
      const config = join(dir, 'badauth.yaml');
      mkdirSync(join(dir, 'empty'), { recursive: true });
      writeFileSync(config, `pipeline:
  sources:
    pglog: { type: logfile, path: ${join(dir, 'empty')}, server: db1, state_dir: ${join(dir, 'state-badauth')} }
  sinks:
    fleet: { type: nats, servers: ['${secured.url}'], user: pgwarden, password_env: TEST_NATS_PASSWORD }
`);
      const result = await runCli(['collect', '--config', config], { TEST_NATS_PASSWORD: 'wrong-password' }, { timeoutMs: 30_000 });
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /^Error: pipeline\.sinks\.fleet: NATS refused the credentials/m);
      assert.match(result.stderr, /\[PGW_ERR_NATS\]/);
      assert.doesNotMatch(result.stderr, /wrong-password/);
    } finally {
      await secured.stop();
    }
  });
});
