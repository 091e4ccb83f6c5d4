// npm run bench:syslog [-- --events 200000]
//
// The syslog source's listener: one TCP connection sends pgAudit records as PostgreSQL 15 sends
// them to syslog (RFC 5424, octet-counted, "[SEQ-1] " markers), as fast as the receiver takes
// them. Measured from the connection to the last event written: pgwarden's syslog source into a
// jsonl sink (the pipeline as collect runs it, in this process; with fsync per batch and without), and as the
// peer Debian's rsyslogd (imtcp into omfile, no parsing beyond the syslog header) writing the
// same messages to a file, in the same run. Prints events/s for each and the ratio.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseConfig } from '../src/core/config.ts';
import { runGraph } from '../src/pipeline/graph.ts';
import { createSink, createSources } from '../src/pipeline/build.ts';
import type { SyslogSource } from '../src/pipeline/sources/syslog/syslog.ts';
import { freePort } from '../test/harness/postgres.ts';
import { octets, PREFIX, record } from '../test/pipeline/syslog-helpers.ts';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const END = 'end-of-the-syslog-bench';
const args = process.argv.slice(2);
const total = Number(args[args.indexOf('--events') + 1] ?? 200_000) || 200_000;

/** Sends the frames over one connection, waiting for the receiver to take them. */
async function send(port: number, frames: Buffer[]): Promise<void> {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  for (const frame of frames) if (!socket.write(frame)) await once(socket, 'drain');
  socket.end();
  await once(socket, 'close');
}

function tail(file: string, bytes = 4096): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  const buffer = Buffer.alloc(Math.min(bytes, size));
  readSync(fd, buffer, 0, buffer.length, size - buffer.length);
  closeSync(fd);
  return buffer.toString('utf8');
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-syslog-'));
try {
  const chunks: Buffer[] = [];
  for (let n = 1; n <= total; n += 1000) {
    chunks.push(Buffer.concat(Array.from({ length: Math.min(1000, total - n + 1) }, (_, i) => octets(record(n + i, { statement: `SELECT * FROM public.orders WHERE note = 'secret-${n + i}'` })))));
  }
  chunks.push(octets(record(total + 1, { statement: END })));
  const mb = chunks.reduce((sum, c) => sum + c.length, 0) / 1e6;
  console.log(`stream: ${total} pgAudit records, ${mb.toFixed(1)} MB (RFC 5424, octet-counted, one TCP connection)`);

  // pgwarden, with the sink's fsync per batch (as configured by default) and without
  const ours: number[] = [];
  for (const fsync of [true, false]) {
    const port = await freePort();
    const out = path.join(dir, `out-${fsync}.jsonl`);
    const config = parseConfig(JSON.stringify({
      pipeline: {
        sources: { in: { type: 'syslog', tcp_port: port, allow: ['127.0.0.1'], prefix: PREFIX, idle_flush_ms: 100 } },
        sinks: { out: { type: 'jsonl', path: out, fsync } },
        batch: { window_seconds: 0, max_events: 1000 },
      },
    }));
    const log = pino({ level: 'error' }, pino.destination(2));
    const sources = await createSources('in', config.pipeline.sources.in!, config, log);
    const source = sources[0] as SyslogSource;
    const running = await runGraph({ sources, sinks: [await createSink('out', config.pipeline.sinks.out!, config, log)] }, config.pipeline, log);
    const start = performance.now();
    await send(port, chunks);
    while (!(source.stats.events >= total + 1 && source.buffered === 0 && tail(out).includes(END))) await new Promise((resolve) => setTimeout(resolve, 20));
    const seconds = (performance.now() - start) / 1000;
    ours.push(seconds);
    await running.stop();
    console.log(`pgwarden syslog source -> jsonl (fsync ${fsync ? 'per batch' : 'off'}): ${(total / seconds).toFixed(0)} events/s, ${(mb / seconds).toFixed(1)} MB/s, ${seconds.toFixed(2)} s`
      + ` (reading paused ${source.stats.pauses} times for the sink)`);
  }

  // rsyslogd, the peer
  const rsyslogPort = await freePort();
  const file = path.join(dir, 'rsyslog.log');
  writeFileSync(path.join(dir, 'rsyslog.conf'), `
global(workDirectory="${dir}" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" port="${rsyslogPort}" address="127.0.0.1")
action(type="omfile" file="${file}" template="RSYSLOG_FileFormat")
`);
  const daemon = spawn(RSYSLOGD, ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const probe = connect({ port: rsyslogPort, host: '127.0.0.1' }, () => { probe.destroy(); resolve(true); });
      probe.on('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const start = performance.now();
  await send(rsyslogPort, chunks);
  while (!tail(file).includes(END)) await new Promise((resolve) => setTimeout(resolve, 20));
  const theirs = (performance.now() - start) / 1000;
  daemon.kill();
  await once(daemon, 'exit');
  console.log(`rsyslogd imtcp -> omfile (peer, no parsing): ${(total / theirs).toFixed(0)} events/s, ${(mb / theirs).toFixed(1)} MB/s, ${theirs.toFixed(2)} s`);
  console.log(`ratio pgwarden / rsyslogd: ${(theirs / ours[0]!).toFixed(2)} (fsync per batch), ${(theirs / ours[1]!).toFixed(2)} (fsync off)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
