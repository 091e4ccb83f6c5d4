// The syslog source's type and config (docs/pipeline.md#syslog-source); the implementation, a
// listener on TCP, UDP and TLS, is syslog.ts.
import { isIP } from 'node:net';
import { z } from 'zod';
import { defineSource, type ConfigProblem, type SourceDefinition } from '../../component.ts';

const listenPort = z.number().int().min(1).max(65535);

/** An IPv4 or IPv6 network: 10.0.0.0/8, 2001:db8::/32, or one address (a /32 or /128). */
const cidr = z.string().refine((text) => {
  const [address, bits, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}, 'an IP address or network in CIDR form, e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32');

export const syslogSourceSchema = z.strictObject({
  type: z.literal('syslog'),
  /** the address to listen on (0.0.0.0 or :: for every interface) */
  host: z.string().min(1).default('127.0.0.1'),
  /** TCP, octet-counted or LF-terminated frames (RFC 6587) */
  tcp_port: listenPort.optional(),
  /** UDP, one message per datagram (RFC 5426) */
  udp_port: listenPort.optional(),
  /** TLS, octet-counted frames (RFC 5425); needs tls */
  tls_port: listenPort.optional(),
  tls: z.strictObject({
    cert_file: z.string().min(1),
    key_file: z.string().min(1),
    /** senders must show a certificate signed by this CA */
    ca_file: z.string().min(1).optional(),
  }).optional(),
  /** senders accepted (by source address); anything else is closed, or its datagram dropped, and counted */
  allow: z.array(cidr).min(1),
  /** the server's log_line_prefix, as it comes after the syslog header */
  prefix: z.string().default('%m [%p] %q%u@%d '),
  /** the `server` of every event (default: the HOSTNAME of the syslog header) */
  server: z.string().min(1).optional(),
  /** a longer message is passed over and counted (PostgreSQL sends messages under 1 KiB with syslog_split_messages on) */
  max_message_bytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
  /** TCP and TLS connections open at once; one more is closed at once and counted */
  max_connections: z.number().int().min(1).max(100_000).default(1000),
  /** a connection silent this long is closed (0: never) */
  idle_timeout_seconds: z.number().min(0).max(86_400).default(3600),
  /** a frame (or TLS handshake) begun and not finished this long after is a slow sender: closed */
  frame_timeout_seconds: z.number().min(1).max(3600).default(30),
  /**
   * events held for the slowest sink before the TCP and TLS sockets stop being read (and UDP
   * datagrams are dropped). The default is lane-buffer.ts's MAX_BUFFERED_EVENTS, the fixed limit
   * of the other sources (a definition imports zod only, so the number is written here; the
   * source's test holds them equal). Settable for this source alone: it is how far a UDP burst may
   * outrun the sinks before datagrams are dropped.
   */
  max_buffered_events: z.number().int().min(100).max(1_000_000).default(20_000),
  /** a record whose process sent nothing more for this long is complete */
  idle_flush_ms: z.number().int().min(10).max(600_000).default(1000),
  /**
   * On SIGTERM/SIGINT, collect stops listening and delivers what this source received (records
   * held for their next part included) for at most this long before it exits: a stream has no
   * offset to read again from, so what is left undelivered then is lost (and logged as such).
   */
  drain_seconds: z.number().min(0).max(3600).default(10),
});

export type SyslogSourceConfig = z.infer<typeof syslogSourceSchema>;

export const syslogSource: SourceDefinition<typeof syslogSourceSchema> = defineSource({
  type: 'syslog',
  schema: syslogSourceSchema,
  doc: 'pipeline.md#syslog-source',
  tests: ['test/pipeline/syslog-source.test.ts', 'test/pipeline/syslog-rsyslog.test.ts'],
  check: (config): ConfigProblem[] => {
    if (config.tcp_port === undefined && config.udp_port === undefined && config.tls_port === undefined) {
      return [{ path: [], message: 'a syslog source needs tcp_port, udp_port or tls_port' }];
    }
    if ((config.tls_port === undefined) !== (config.tls === undefined)) {
      return [{ path: [config.tls ? 'tls' : 'tls_port'], message: 'tls_port and tls go together: TLS needs cert_file and key_file, and tls is only for tls_port' }];
    }
    return [];
  },
});
