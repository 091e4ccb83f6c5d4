// Shared by the syslog source tests: PostgreSQL-like syslog messages, frames, and a pipeline
// (the syslog source and real sinks from a parsed config) run in this process, so the tests can
// read the source's counters.
import { connect, type Socket } from 'node:net';
import pino from 'pino';
import { parseConfig } from '../../src/core/config.ts';
import { runGraph, type Running } from '../../src/pipeline/graph.ts';
import { createSink, createSources } from '../../src/pipeline/build.ts';
import type { SyslogSource } from '../../src/pipeline/sources/syslog/syslog.ts';

export const PREFIX = '%m [%p] %q%u@%d ';

export interface RecordOptions {
  host?: string;
  pid?: number;
  /** PostgreSQL's syslog sequence number; null: syslog_sequence_numbers off */
  seq?: number | null;
  statement?: string;
}

/** A pgAudit record as PostgreSQL sends it to syslog (RFC 5424 header, "[SEQ-1] " marker), with a distinct time per n. */
export function record(n: number, options: RecordOptions = {}): string {
  const host = options.host ?? 'db1';
  const pid = options.pid ?? 4242;
  const seq = options.seq === undefined ? n : options.seq;
  const time = new Date(Date.UTC(2026, 11, 2, 5, 0, 0) + n);
  const stamp = time.toISOString().replace('T', ' ').replace('Z', ' UTC');
  const statement = options.statement ?? `SELECT ${n}`;
  const marker = seq === null ? '' : `[${seq}-1] `;
  return `<134>1 ${time.toISOString()} ${host} postgres ${pid} - - ${marker}${stamp} [${pid}] alice@shop LOG:  AUDIT: SESSION,${n},1,READ,SELECT,,,"${statement.replaceAll('"', '""')}",<none>`;
}

/** RFC 6587 octet counting. */
export function octets(message: string | Buffer): Buffer {
  const bytes = typeof message === 'string' ? Buffer.from(message) : message;
  return Buffer.concat([Buffer.from(`${bytes.length} `), bytes]);
}

export interface Collecting {
  source: SyslogSource;
  running: Running;
  logs: string[];
}

/** The syslog source `in` with the given settings, into the sinks given (YAML/JSON objects), run as collect runs them. */
export async function runSyslog(source: Record<string, unknown>, sinks: Record<string, Record<string, unknown>>, options: { maxEvents?: number; retrySeconds?: number } = {}): Promise<Collecting> {
  const config = parseConfig(JSON.stringify({
    pipeline: {
      sources: { in: { type: 'syslog', prefix: PREFIX, ...source } },
      sinks,
      batch: { window_seconds: 0, max_events: options.maxEvents ?? 500 },
      retry: { initial_seconds: options.retrySeconds ?? 0.2, max_seconds: options.retrySeconds ?? 1 },
    },
  }));
  const logs: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => { logs.push(line); } });
  const sources = await createSources('in', config.pipeline.sources.in!, config, log);
  const built = await Promise.all(Object.entries(config.pipeline.sinks).map(([name, sink]) => createSink(name, sink, config, log)));
  const running = await runGraph({ sources, sinks: built }, config.pipeline, log);
  return { source: sources[0] as SyslogSource, running, logs };
}

/** A TCP connection, resolved once connected (from `localAddress` when given). */
export function dial(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves when the peer closed the connection (or it failed). */
export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.on('error', () => undefined);
    socket.once('close', () => resolve());
  });
}
