// Syslog sink: RFC 5424 messages over UDP (RFC 5426, one message per datagram), TCP (RFC 6587
// octet-counting framing: "LENGTH SP MESSAGE") or TLS (RFC 5425: the same framing; the server's
// certificate is always verified). The event's fields go into one structured-data
// element [pgwarden@32473 …] (32473 is the enterprise number RFC 5612 reserves for examples);
// the free-text MSG is the audit statement or the log message. A batch counts as delivered when
// the operating system took every message (syslog has no acknowledgement).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { hostname as osHostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { PgwardenError } from '../../../core/errors.ts';
import type { PgwardenEvent } from '../../../core/event.ts';
import type { SinkContext } from '../../build.ts';
import type { Pending, PendingAlert, Sink } from '../../types.ts';
import type { SyslogSinkConfig } from './config.ts';

export const SD_ID = 'pgwarden@32473';

const FACILITIES: Record<SyslogSinkConfig['facility'], number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/** PostgreSQL's own mapping (elog.c, write_syslog) for log records; by kind for the others. */
export function syslogSeverity(event: PgwardenEvent): number {
  switch (event.severity) {
    case 'PANIC': return 2; // crit
    case 'FATAL': return 3; // err
    case 'ERROR': return 4; // warning
    case 'WARNING':
    case 'NOTICE': return 5; // notice
    case 'INFO':
    case 'LOG': return 6; // info
    case 'DEBUG': return 7;
  }
  switch (event.kind) {
    case 'tamper': return 2;
    case 'auth_failed':
    case 'guard_deny': return 4;
    case 'ddl': return 5;
    default: return 6;
  }
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)$/;

function timestamp(ts: string | null): string {
  if (ts !== null) {
    const iso = ts.replace(' ', 'T');
    if (RFC3339.test(iso)) return iso;
  }
  return new Date().toISOString();
}

/** An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3). */
export function sdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

function header(value: string | null | undefined, max: number): string {
  if (value === null || value === undefined || value === '') return '-';
  const printable = value.replace(/[^\x21-\x7e]/g, '_');
  return printable.slice(0, max);
}

/** The event's fields in the event model's order; the nested ones (audit, ddl, ...) as `audit_class`, `ddl_schema`, ... */
const TOP_LEVEL = [
  'kind', 'ts', 'server', 'pid', 'session_id', 'session_line', 'user', 'database', 'application', 'client_addr', 'client_port',
  'severity', 'sqlstate', 'message', 'detail', 'hint', 'context', 'query', 'backend_type', 'pooler', 'duration_ms',
] as const;
const NESTED = ['audit', 'guard', 'ddl', 'tamper', 'response', 'source'] as const;

/** Which field is the MSG: the audit statement, the DDL statement, the message, else the query. */
function msgField(event: PgwardenEvent): { name: string; text: string } {
  if (event.audit?.statement != null) return { name: 'audit_statement', text: event.audit.statement };
  if (event.ddl?.statement != null) return { name: 'ddl_statement', text: event.ddl.statement };
  if (event.message !== null) return { name: 'message', text: event.message };
  if (event.query !== null) return { name: 'query', text: event.query };
  return { name: '', text: '' };
}

/**
 * The structured-data parameters of an event: every non-null field (names as in the event model;
 * nested ones joined with `_`, lists and objects as JSON), except the one the MSG carries.
 */
export function sdParams(event: PgwardenEvent): [string, string][] {
  const params: [string, string][] = [];
  const skip = msgField(event).name;
  const add = (name: string, value: unknown) => {
    if (value === null || value === undefined || name === skip) return;
    params.push([name, typeof value === 'string' ? value : JSON.stringify(value)]);
  };
  for (const name of TOP_LEVEL) add(name, event[name]);
  for (const part of NESTED) {
    const value = event[part] as Record<string, unknown> | null;
    if (value) for (const [key, inner] of Object.entries(value)) add(`${part}_${key}`, inner);
  }
  return params;
}

/** One RFC 5424 message (without transport framing). */
export function formatSyslog(event: PgwardenEvent, options: { facility: number; hostname: string; appName: string; maxBytes?: number }): Buffer {
  const pri = options.facility * 8 + syslogSeverity(event);
  const params = sdParams(event);
  const prefix = `<${pri}>1 ${timestamp(event.ts)} ${header(options.hostname, 255)} ${header(options.appName, 48)} ${header(event.pid === null ? null : String(event.pid), 128)} ${header(event.kind, 32)} `;
  const sdOf = () => `[${SD_ID}${params.map(([k, v]) => ` ${k}="${sdValue(v)}"`).join('')}]`;
  // A datagram has a size limit: long values (a query, a context) are cut, the longest first, leaving room for the MSG.
  if (options.maxBytes !== undefined) {
    while (Buffer.byteLength(prefix + sdOf()) > options.maxBytes / 2) {
      const longest = params.reduce((a, b) => (b[1].length > a[1].length ? b : a));
      if (longest[1].length <= 64) break;
      longest[1] = longest[1].slice(0, Math.floor(longest[1].length / 2)).replace(/[\uD800-\uDBFF]$/, '') + '…';
    }
  }
  const head = prefix + sdOf();
  const text = msgField(event).text;
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  let msg = Buffer.from(text, 'utf8');
  const headBytes = Buffer.from(head, 'utf8');
  if (options.maxBytes !== undefined && headBytes.length + 1 + bom.length + msg.length > options.maxBytes) {
    const room = Math.max(0, options.maxBytes - headBytes.length - 1 - bom.length);
    // cut on a character boundary
    msg = Buffer.from(msg.subarray(0, room).toString('utf8').replace(/\uFFFD$/, ''), 'utf8');
  }
  return text === '' ? headBytes : Buffer.concat([headBytes, Buffer.from(' '), bom, msg]);
}

/** syslog severities of alert severities: critical -> crit, high -> err, medium -> warning, low -> notice. */
const ALERT_SEVERITY: Record<string, number> = { critical: 2, high: 3, medium: 4, low: 5 };

/**
 * One RFC 5424 message for a detection alert: MSGID `alert`, the incident's fields as structured
 * data (delivery_id the notice id), the summary as the MSG (cut, never the header, when too long).
 */
export function formatAlertSyslog(pending: PendingAlert, options: { facility: number; hostname: string; appName: string; maxBytes?: number }): Buffer {
  const { alert } = pending.notice;
  const pri = options.facility * 8 + (ALERT_SEVERITY[alert.severity] ?? 4);
  const params: [string, unknown][] = [
    ['delivery_id', pending.messageId], ['notice', pending.notice.notice], ['rule', alert.rule], ['severity', alert.severity],
    ['incident', alert.id], ['server', alert.server], ['first_ts', alert.first_ts], ['last_ts', alert.last_ts], ['count', alert.count],
    ['user', alert.user], ['database', alert.database], ['client_addr', alert.client_addr], ['application', alert.application],
    ['tags', alert.tags.join(' ')],
  ];
  const sd = params.filter(([, v]) => v !== null && v !== '').map(([k, v]) => ` ${k}="${sdValue(String(v))}"`).join('');
  const head = Buffer.from(`<${pri}>1 ${timestamp(alert.last_ts)} ${header(options.hostname, 255)} ${header(options.appName, 48)} - alert [${SD_ID}${sd}] `, 'utf8');
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  let msg = Buffer.from(alert.summary, 'utf8');
  if (options.maxBytes !== undefined && head.length + bom.length + msg.length > options.maxBytes) {
    msg = Buffer.from(msg.subarray(0, Math.max(0, options.maxBytes - head.length - bom.length)).toString('utf8').replace(/\uFFFD$/, ''), 'utf8');
  }
  return Buffer.concat([head, bom, msg]);
}

/** The largest UDP payload sent; a longer message has its MSG part cut. */
export const UDP_MAX_BYTES = 65_000;

/** TLS settings, with the files read now: a missing one is a config error at start, not a retry later. */
function tlsOptionsOf(name: string, config: SyslogSinkConfig): ConnectionOptions {
  const tls = config.tls ?? {};
  const read = (key: 'ca_file' | 'cert_file' | 'key_file') => {
    const file = tls[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sinks.${name}.tls.${key}: cannot read ${file}: ${(error as Error).message}`);
    }
  };
  if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sinks.${name}.tls: cert_file and key_file go together (a client certificate needs its key)`);
  }
  // The name checked against the certificate: the host, unless it is an address (then its IP SAN).
  const servername = tls.servername ?? (isIP(config.host) ? undefined : config.host);
  return { ca: read('ca_file'), cert: read('cert_file'), key: read('key_file'), servername, rejectUnauthorized: true };
}

export function build({ name, config }: SinkContext<SyslogSinkConfig>): Sink {
  const options = { facility: FACILITIES[config.facility], hostname: config.hostname ?? osHostname(), appName: config.app_name };
  let udp: UdpSocket | null = null;
  let tcp: Socket | null = null;
  let tcpReady: Promise<Socket> | null = null;
  const port = config.port ?? (config.protocol === 'tls' ? 6514 : 514);
  const where = `${config.protocol}://${config.host}:${port}`;
  if (config.tls && config.protocol !== 'tls') {
    throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sinks.${name}.tls: only with protocol: tls (protocol is ${config.protocol})`);
  }
  const tlsOptions = config.protocol === 'tls' ? tlsOptionsOf(name, config) : null;

  const tcpSocket = (): Promise<Socket> => {
    if (tcp && !tcp.destroyed) return Promise.resolve(tcp);
    tcpReady ??= new Promise<Socket>((resolve, reject) => {
      const socket = tlsOptions ? connectTls({ ...tlsOptions, host: config.host, port }) : connect({ host: config.host, port });
      socket.setTimeout(config.timeout_seconds * 1000);
      socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
        socket.setTimeout(0);
        tcp = socket;
        tcpReady = null;
        resolve(socket);
      });
      socket.once('timeout', () => socket.destroy(new Error(`no connection within ${config.timeout_seconds} s`)));
      socket.once('error', (error) => {
        tcpReady = null;
        if (tcp === socket) tcp = null;
        reject(new Error(`syslog ${where}: ${error.message}`));
      });
      socket.on('close', () => {
        if (tcp === socket) tcp = null;
      });
      // a syslog receiver sends nothing; read and drop whatever comes
      socket.on('data', () => undefined);
    });
    return tcpReady;
  };

  const sendUdp = (socket: UdpSocket, message: Buffer): Promise<void> => new Promise((resolve, reject) => {
    socket.send(message, port, config.host, (error) => (error ? reject(new Error(`syslog ${where}: ${error.message}`)) : resolve()));
  });

  /** Each message in order: a datagram each over UDP (cut to UDP_MAX_BYTES), one octet-counted write over TCP/TLS. */
  const send = async (messages: ((udpMax: number | undefined) => Buffer)[]): Promise<void> => {
    if (config.protocol === 'udp') {
      if (!udp) {
        udp = createSocket(config.host.includes(':') ? 'udp6' : 'udp4');
        udp.on('error', () => undefined);
        udp.unref();
      }
      for (const message of messages) await sendUdp(udp, message(UDP_MAX_BYTES));
      return;
    }
    const socket = await tcpSocket();
    const frames = messages.map((format) => {
      const message = format(undefined);
      return Buffer.concat([Buffer.from(`${message.length} `), message]);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(new Error(`syslog ${where}: ${error.message}`));
      socket.once('error', onError);
      socket.write(Buffer.concat(frames), (error) => {
        socket.off('error', onError);
        if (error) {
          socket.destroy();
          reject(new Error(`syslog ${where}: ${error.message}`));
        } else resolve();
      });
    });
  };

  return {
    name,
    type: 'syslog',
    inputs: config.inputs,
    deliver: (pending: Pending) => send(pending.events.map((event) => (udpMax) => formatSyslog(event, { ...options, maxBytes: udpMax }))),
    deliverAlert: (pending: PendingAlert) => send([(udpMax) => formatAlertSyslog(pending, { ...options, maxBytes: udpMax })]),
    async close(): Promise<void> {
      udp?.close();
      udp = null;
      const socket = tcp;
      tcp = null;
      if (socket) await new Promise<void>((resolve) => socket.end(resolve));
    },
  };
}
