// pgwarden.yaml: validated with zod, unknown keys rejected with the path of the key.
import { readFileSync, existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { detectReferenceProblems, detectSchema } from '../detect/config.ts';
import { DEFAULT_CONFIG_FILE } from './config-file.ts';
// Re-exported: the schema's users read them from here; what needs no schema imports config-file.ts.
export { DEFAULT_CONFIG_FILE, readSecret } from './config-file.ts';
import { PgwardenError } from './errors.ts';
import { EVENT_KINDS } from './event.ts';
import { LOG_FORMATS } from '../logs/formats.ts';
import { MONITOR_DEFAULTS } from './config-file.ts';

const secretSource = z.strictObject({
  /** Name of an environment variable holding the password. */
  password_env: z.string().min(1).optional(),
  /** Path of a file whose first line is the password (mode 0600 advised). */
  password_file: z.string().min(1).optional(),
});

const serverSchema = secretSource.extend({
  /** postgres:// URL without a password; empty means libpq PG* environment variables. */
  url: z.string().min(1).optional(),
});

const guardSchema = z.strictObject({
  /** What a broken guard does to non-superusers: open (allow, default) or closed (refuse). */
  on_error: z.enum(['open', 'closed']).default('open'),
  /** Roles never refused, whatever the rules say (superusers never are either). */
  break_glass_roles: z.array(z.string().min(1)).default([]),
  /** Host the guard uses to record refusals in its own autonomous transaction (dblink loopback). */
  recorder_host: z.string().min(1).default('127.0.0.1'),
  watch: z.strictObject({
    interval_seconds: z.number().positive().max(3600).default(2),
    terminate: z.boolean().default(true),
  }).prefault({}),
}).prefault({});

const componentName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'names use letters, digits, _ . -');

/** Which events a sink receives: every list present must match (case-insensitive, `*` wildcards). */
const matchSchema = z.strictObject({
  kinds: z.array(z.enum(['ddl', 'tamper'])).min(1).optional(),
  databases: z.array(z.string().min(1)).min(1).optional(),
  users: z.array(z.string().min(1)).min(1).optional(),
  /** command tags such as 'DROP *' or 'ALTER TABLE' */
  commands: z.array(z.string().min(1)).min(1).optional(),
});

const ddlSourceSchema = z.strictObject({
  type: z.literal('ddl'),
  /** a name under servers: (default: default_server, else the PG* environment) */
  server: z.string().min(1).optional(),
  /** databases to follow (default: the server's own); ['*'] means every database where pgwarden is installed */
  databases: z.array(z.string().min(1)).min(1).optional(),
  /** how often to compare the installed sensors with what install made (0: never) */
  tamper_check_seconds: z.number().min(0).max(60).default(30),
  /** a safety net: look for undelivered rows this often even without a notification */
  poll_seconds: z.number().positive().max(3600).default(30),
});

const guardSourceSchema = z.strictObject({
  type: z.literal('guard'),
  /** a name under servers: (default: default_server, else the PG* environment) */
  server: z.string().min(1).optional(),
  /** databases whose pgwarden.connection_attempts to read (default: the server's own); ['*']: every database with pgwarden */
  databases: z.array(z.string().min(1)).min(1).optional(),
  /** how often to look for new attempts (the guard records by INSERT, without a notification) */
  poll_seconds: z.number().positive().max(3600).default(5),
  /** how long an id missing below newer ones is waited for (an attempt still committing) before it is taken as rolled back */
  gap_seconds: z.number().positive().max(3600).default(60),
  /** where checkpoints are kept (default: ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
});

/** Filter lists of a sink (src/pipeline/filter.ts): case-insensitive, `*` wildcards. */
const filterListsSchema = z.strictObject({
  kinds: z.array(z.enum(EVENT_KINDS)).min(1).optional(),
  /** pgAudit classes: READ, WRITE, FUNCTION, ROLE, DDL, MISC, MISC_SET */
  classes: z.array(z.string().min(1)).min(1).optional(),
  /** pgAudit commands or DDL command tags ('DELETE', 'DROP *') */
  commands: z.array(z.string().min(1)).min(1).optional(),
  users: z.array(z.string().min(1)).min(1).optional(),
  databases: z.array(z.string().min(1)).min(1).optional(),
  applications: z.array(z.string().min(1)).min(1).optional(),
});

const filterSchema = z.strictObject({
  include: filterListsSchema.optional(),
  exclude: filterListsSchema.optional(),
  /** Guardium-style words in the statement or message: '?delete ?insert' (any of), 'word' (must), '-word' (must not) */
  event_filter: z.string().optional(),
});

const redactSchema = z.strictObject({
  /** mask string and number literals in statements and query text */
  literals: z.boolean().default(false),
  /** replace bind parameters with '?' */
  parameters: z.boolean().default(false),
});

const sinkCommon = {
  /** sources this sink takes events from (default: all) */
  inputs: z.array(componentName).min(1).optional(),
  match: matchSchema.optional(),
  ignore: matchSchema.optional(),
  filter: filterSchema.optional(),
  redact: redactSchema.optional(),
};

const emailSinkSchema = secretSource.extend({
  type: z.literal('email'),
  ...sinkCommon,
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(587),
  /** starttls: upgrade or fail; implicit: TLS from the first byte (port 465); opportunistic: upgrade when offered; none: never */
  tls: z.enum(['starttls', 'implicit', 'opportunistic', 'none']).default('starttls'),
  tls_reject_unauthorized: z.boolean().default(true),
  /** SMTP AUTH user; the password comes from password_env or password_file */
  user: z.string().min(1).optional(),
  from: z.string().regex(/@/, 'must be an email address (name@example.com or "Name <name@example.com>")'),
  to: z.array(z.string().regex(/@/, 'must be an email address')).min(1),
  subject_prefix: z.string().default('[pgwarden]'),
  timeout_seconds: z.number().positive().max(600).default(30),
});

const webhookSinkSchema = z.strictObject({
  type: z.literal('webhook'),
  ...sinkCommon,
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  /** slack: Slack-compatible {text, blocks}; json: {text, delivery_id, events} */
  format: z.enum(['slack', 'json']).default('slack'),
  /** HMAC-SHA256 signing secret, from an environment variable or a file */
  secret_env: z.string().min(1).optional(),
  secret_file: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  timeout_seconds: z.number().positive().max(600).default(10),
});

/** The central repository (docs/repository.md): a URL or a server name, password from env or file. */
const repositorySinkSchema = secretSource.extend({
  type: z.literal('repository'),
  ...sinkCommon,
  /** postgres:// URL of the repository database (no password in it) */
  url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  /** a name under servers: (instead of url); default: the top-level repository: */
  server: z.string().min(1).optional(),
});

const logfileSourceSchema = z.strictObject({
  type: z.literal('logfile'),
  /** the log directory */
  path: z.string().min(1),
  /** file names to follow in it (`*` and `?` wildcards) */
  pattern: z.string().min(1).default('*.log'),
  format: z.enum(['auto', ...LOG_FORMATS]).default('auto'),
  /** log_line_prefix of a stderr log (default: recognised from the file) */
  prefix: z.string().optional(),
  /** the `server` of every event */
  server: z.string().min(1),
  /** where checkpoints are kept (default: ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
  /** a stderr record is complete when the next begins: after this long without new bytes, the held one is sent */
  idle_flush_ms: z.number().int().min(10).max(600_000).default(1000),
  /** how often to look for new, rotated or grown files (besides fs.watch) */
  poll_ms: z.number().int().min(10).max(600_000).default(1000),
});

/** Where an AWS client goes: region and credentials by the SDK's default chain unless given. */
const awsCommon = {
  /** AWS region (default: AWS_REGION, the profile's region, or the instance's) */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as eu-west-1').optional(),
  /** another endpoint than AWS's own (a VPC endpoint, a FIPS endpoint, a local emulator) */
  endpoint: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
};

/** How log text in CloudWatch events and queue messages is read (src/logs). */
const logTextCommon = {
  format: z.enum(['stderr', 'csvlog', 'jsonlog']).default('stderr'),
  /** log_line_prefix of stderr text (default: Amazon RDS's) */
  prefix: z.string().default('%t:%r:%u@%d:[%p]:'),
};

const cloudwatchSourceSchema = z.strictObject({
  type: z.literal('cloudwatch'),
  ...awsCommon,
  ...logTextCommon,
  /** the log group, e.g. /aws/rds/instance/db1/postgresql */
  log_group: z.string().regex(/^[\w\-./#]{1,512}$/, 'a CloudWatch Logs group name (letters, digits, _ - . / #)'),
  /** only streams whose names start with this */
  stream_prefix: z.string().min(1).optional(),
  /** a CloudWatch Logs filter pattern applied by AWS before anything is sent, e.g. '"AUDIT:"' */
  filter_pattern: z.string().optional(),
  /** the `server` of every event (default: the log stream's name, the RDS instance) */
  server: z.string().min(1).optional(),
  /** where a new source starts: beginning, now, a duration back (24h, 7d) or an ISO time */
  start: z.string().regex(/^(beginning|now|\d+[smhd]|\d{4}-\d\d-\d\d(T.*)?)$/, 'beginning, now, a duration such as 24h, or an ISO time').default('beginning'),
  /** read events only once they are this old, so that CloudWatch has ingested every stream up to there */
  settle_seconds: z.number().min(0).max(3600).default(15),
  /** how often to look for new events once caught up */
  poll_seconds: z.number().positive().max(3600).default(5),
  /** events per FilterLogEvents call (AWS allows at most 10000) */
  page_size: z.number().int().min(1).max(10_000).default(10_000),
  /** where checkpoints are kept (default: ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
});

const sqsSourceSchema = z.strictObject({
  type: z.literal('sqs'),
  ...awsCommon,
  ...logTextCommon,
  /** https://sqs.REGION.amazonaws.com/ACCOUNT/NAME */
  queue_url: z.url({ protocol: /^https?$/, error: 'must be the queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)' }),
  /** the `server` of every event (default: the CloudWatch log stream a message names, else the queue's name) */
  server: z.string().min(1).optional(),
  /** long poll: how long one ReceiveMessage waits for messages */
  wait_seconds: z.number().int().min(0).max(20).default(20),
  /** messages per ReceiveMessage */
  max_messages: z.number().int().min(1).max(10).default(10),
  /** how long a received message stays hidden from other consumers; extended while its events are on their way */
  visibility_timeout_seconds: z.number().int().min(1).max(43_200).default(60),
});

/** A NATS connection: servers, and at most one way to authenticate. */
const natsCommon = {
  /** nats://host:port URLs (default: nats://127.0.0.1:4222) */
  servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, 'nats://host:port or tls://host:port')).min(1).default(['nats://127.0.0.1:4222']),
  user: z.string().min(1).optional(),
  password_env: z.string().min(1).optional(),
  password_file: z.string().min(1).optional(),
  token_env: z.string().min(1).optional(),
  token_file: z.string().min(1).optional(),
  /** a NATS credentials file (JWT and NKey seed) */
  creds_file: z.string().min(1).optional(),
  tls: z.strictObject({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
  }).optional(),
  /** the JetStream stream */
  stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -').default('PGWARDEN_EVENTS'),
  /** events go to SUBJECT_PREFIX.SERVER */
  subject_prefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens of letters, digits, _ and -').default('pgwarden.events'),
  timeout_seconds: z.number().positive().max(600).default(10),
};

const natsSinkSchema = z.strictObject({
  type: z.literal('nats'),
  ...sinkCommon,
  ...natsCommon,
  /** create the stream when it does not exist (file storage, subjects SUBJECT_PREFIX.>) */
  create_stream: z.boolean().default(true),
  /** JetStream drops a message whose id it saw this recently (a batch sent again) */
  duplicate_window_seconds: z.number().int().min(1).max(86_400).default(600),
  /** how long the stream keeps events (0: until deleted by size or hand) */
  max_age_hours: z.number().min(0).max(87_600).default(168),
  /** events of one server per NATS message (JSON lines); fewer when a message would pass half the server's max_payload */
  events_per_message: z.number().int().min(1).max(1000).default(100),
});

const natsSourceSchema = z.strictObject({
  type: z.literal('nats'),
  ...natsCommon,
  /** the durable consumer: writers that share it share the work */
  durable: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -').default('pgwarden-repository'),
  /** which servers' events (default: all, SUBJECT_PREFIX.>) */
  filter_subject: z.string().min(1).optional(),
  /** an event not acknowledged this long after it was handed over is sent again (extended while being written) */
  ack_wait_seconds: z.number().int().min(1).max(3600).default(60),
});

const jsonlSinkSchema = z.strictObject({
  type: z.literal('jsonl'),
  ...sinkCommon,
  /** a file to append to, or '-' for standard output */
  path: z.string().min(1),
  /** fsync the file before a batch counts as delivered */
  fsync: z.boolean().default(true),
});

const syslogSinkSchema = z.strictObject({
  type: z.literal('syslog'),
  ...sinkCommon,
  host: z.string().min(1).default('127.0.0.1'),
  /** default 514 for udp and tcp, 6514 for tls (RFC 5425) */
  port: z.number().int().min(1).max(65535).optional(),
  protocol: z.enum(['udp', 'tcp', 'tls']).default('udp'),
  /** for protocol tls: whom to trust (default: the system's CAs), a client certificate, the name to check */
  tls: z.strictObject({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    servername: z.string().min(1).optional(),
  }).optional(),
  /** syslog facility name (local0 … local7, daemon, auth, authpriv, user) */
  facility: z.enum(['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7']).default('local0'),
  app_name: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'printable ASCII without spaces, at most 48 characters').default('pgwarden'),
  /** HOSTNAME field (default: this machine's host name) */
  hostname: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'printable ASCII without spaces').optional(),
  timeout_seconds: z.number().positive().max(600).default(10),
});

// ---- syslog source (issue 19; docs/pipeline.md#syslog-source) ----
const listenPort = z.number().int().min(1).max(65535);
/** An IPv4 or IPv6 network: 10.0.0.0/8, 2001:db8::/32, or one address (a /32 or /128). */
const cidr = z.string().refine((text) => {
  const [address, bits, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}, 'an IP address or network in CIDR form, e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32');

const syslogSourceSchema = z.strictObject({
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
  /** events held for the slowest sink before the TCP and TLS sockets stop being read (and UDP datagrams are dropped) */
  max_buffered_events: z.number().int().min(100).max(1_000_000).default(20_000),
  /** a record whose process sent nothing more for this long is complete */
  idle_flush_ms: z.number().int().min(10).max(600_000).default(1000),
}).refine((s) => s.tcp_port !== undefined || s.udp_port !== undefined || s.tls_port !== undefined,
  { message: 'a syslog source needs tcp_port, udp_port or tls_port' })
  .refine((s) => (s.tls_port === undefined) === (s.tls === undefined), { message: 'tls_port and tls go together: TLS needs cert_file and key_file, and tls is only for tls_port' });
// ---- end of the syslog source ----

const pipelineSchema = z.strictObject({
  sources: z.record(componentName, z.discriminatedUnion('type', [ddlSourceSchema, guardSourceSchema, logfileSourceSchema, cloudwatchSourceSchema, sqsSourceSchema, natsSourceSchema, syslogSourceSchema],
    { error: 'type must be ddl, guard, logfile, cloudwatch, sqs, nats or syslog' })).default({}),
  sinks: z.record(componentName, z.discriminatedUnion('type', [emailSinkSchema, webhookSinkSchema, repositorySinkSchema, jsonlSinkSchema, syslogSinkSchema, natsSinkSchema],
    { error: 'type must be email, webhook, repository, jsonl, syslog or nats' })).default({}),
  batch: z.strictObject({
    /** after a change arrives, wait this long so that a burst goes out as one message */
    window_seconds: z.number().min(0).max(600).default(2),
    max_events: z.number().int().min(1).max(10_000).default(100),
  }).prefault({}),
  retry: z.strictObject({
    initial_seconds: z.number().positive().max(3600).default(2),
    max_seconds: z.number().positive().max(86_400).default(300),
  }).prefault({}),
  /** what `pgwarden collect status` reads */
  status: z.strictObject({
    /** the JSON file collect rewrites every 2 s (default: collect-status.json in ~/.local/state/pgwarden) */
    file: z.string().min(1).optional(),
    /** a lane waiting this long without a delivery (a sink refusing, a source unreadable) is stuck */
    stuck_seconds: z.number().min(1).max(86_400).default(300),
  }).prefault({}),
}).prefault({});

const monitorCheckSchema = z.strictObject({
  enabled: z.boolean().optional(),
  /** null removes the default threshold. */
  warning: z.number().nullable().optional(),
  critical: z.number().nullable().optional(),
  /** Items (role, database, slot, ...) whose rows never raise the level. */
  ignore: z.array(z.string()).optional(),
  /** Settings passed to the check's SQL function (window_minutes, hold_hours, ...). */
  params: z.record(z.string().regex(/^[a-z_]+$/), z.number()).optional(),
});

// ---- Monitoring: pgBouncer consoles and custom checks (docs/monitor.md) ----
/** A check written in SQL (docs/monitor.md, "Custom checks"); `monitor install` makes it a function. */
const customCheckSchema = z.strictObject({
  description: z.string().min(1),
  category: z.enum(['health', 'security']).default('health'),
  /** database: about the database it runs in; cluster: the same answer anywhere. */
  scope: z.enum(['cluster', 'database']).default('database'),
  unit: z.enum(['boolean', 'count', 'percent', 'seconds', 'bytes', 'bytes_per_hour', 'per_second']).default('count'),
  warning: z.number().nullable().default(null),
  critical: z.number().nullable().default(null),
  direction: z.enum(['above', 'below']).default('above'),
  /** One SELECT returning a value column, and optionally item, detail, skipped, metadata. */
  sql: z.string().min(1),
  /** Tables the SQL reads: install grants the monitor's owner role SELECT on them. */
  reads: z.array(z.string().min(1)).default([]),
});
const monitorExtensions = {
  /** The pgBouncer admin console of a server: server name -> the servers: entry of its console. */
  pgbouncer: z.record(z.string(), z.string().min(1)).default({}),
  custom_checks: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'custom check names are snake_case'), customCheckSchema).default({}),
};
// ---- end of the monitoring block ----

const monitorSchema = z.strictObject({
  /** Per-check statement timeout. */
  timeout_ms: z.number().int().min(10).max(600_000).default(MONITOR_DEFAULTS.timeout_ms),
  /** Connections per server that run checks in parallel. */
  concurrency: z.number().int().min(1).max(16).default(MONITOR_DEFAULTS.concurrency),
  /** Per-check settings by check name (names are checked against the registry when used). */
  checks: z.record(z.string(), monitorCheckSchema).default({}),
  ...monitorExtensions,
}).prefault({});

/** `pgwarden serve`: the HTTP API and dashboard over the repository (docs/server.md). */
const serveSchema = z.strictObject({
  /** host:port to listen on; a non-loopback address needs tls or trust_proxy */
  listen: z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080').default('127.0.0.1:8080'),
  /** serve HTTPS with this certificate and key (PEM files) */
  tls: z.strictObject({ cert_file: z.string().min(1), key_file: z.string().min(1) }).optional(),
  /**
   * behind reverse proxies that terminate TLS: how many of them (X-Forwarded-For is read from the
   * right, that many hops) or their addresses (IPs or CIDRs); false: none. `true` trusted every hop,
   * so a client picked its own address: refused with what to write instead.
   */
  trust_proxy: z.union([
    z.literal(false),
    z.number().int().min(1).max(10),
    z.array(z.string().regex(/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/, 'an IP address or CIDR, e.g. 10.0.0.5 or 10.0.0.0/24')).min(1),
  ], {
    error: (issue) => (issue.input === true
      ? 'true trusted every hop, so any client could choose its own address: give the number of proxies in front (1 for one nginx) or their addresses ([10.0.0.5])'
      : 'false, the number of proxies in front (1–10), or a list of their addresses'),
  }).default(false),
  /**
   * Host names the dashboard answers to, besides IP addresses and localhost (a DNS-rebinding page
   * sends its own name): the public name behind a proxy, e.g. [pgwarden.example.com].
   */
  hosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'a host name, e.g. pgwarden.example.com')).default([]),
  /** on SIGTERM, how long requests in flight (a slow export) may go on before their connections are closed */
  shutdown_seconds: z.number().min(0).max(600).default(10),
  /** a browser session ends after this long without a request */
  session_idle_minutes: z.number().int().min(1).max(10_080).default(60),
  /** and at the latest this long after the login */
  session_max_hours: z.number().int().min(1).max(720).default(12),
  /** /metrics without a token (for a Prometheus on a trusted network); default: a token is needed */
  metrics_public: z.boolean().default(false),
  /** the longest any one repository query may run */
  statement_timeout_ms: z.number().int().min(100).max(600_000).default(15_000),
  /** a search returns what it found within about this long, with a cursor to search further back */
  search_budget_ms: z.number().int().min(20).max(60_000).default(200),
  /** rows one CSV/JSON export may hold */
  export_max_rows: z.number().int().min(1).max(10_000_000).default(100_000),
  /** monitoring: run the checks against these servers (names under servers:, or ['*'] for all) */
  monitor: z.strictObject({
    servers: z.array(z.string().min(1)).default([]),
    interval_seconds: z.number().int().min(5).max(86_400).default(60),
    /** how long the history of each check is kept (the Monitoring page's history) */
    history_days: z.number().int().min(1).max(3650).default(30),
  }).prefault({}),
  /** what the alerts page counts as a burst of failed logins */
  alerts: z.strictObject({
    failed_logins: z.number().int().min(1).max(100_000).default(5),
    window_minutes: z.number().int().min(1).max(1440).default(10),
  }).prefault({}),
}).prefault({});

export const configSchema = z.strictObject({
  servers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'server names use letters, digits, _ . -'), serverSchema).default({}),
  default_server: z.string().optional(),
  guard: guardSchema,
  pipeline: pipelineSchema,
  monitor: monitorSchema,
  /** The central repository for ingest, reports and repository sinks (docs/repository.md). */
  repository: serverSchema.optional(),
  serve: serveSchema,
  /** Detection rules over every event (docs/detect.md); the schema lives in src/detect/config.ts. */
  detect: detectSchema,
});

export type Config = z.infer<typeof configSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;
export type GuardConfig = z.infer<typeof guardSchema>;
export type PipelineConfig = z.infer<typeof pipelineSchema>;
export type MatchConfig = z.infer<typeof matchSchema>;
export type DdlSourceConfig = z.infer<typeof ddlSourceSchema>;
export type GuardSourceConfig = z.infer<typeof guardSourceSchema>;
export type EmailSinkConfig = z.infer<typeof emailSinkSchema>;
export type WebhookSinkConfig = z.infer<typeof webhookSinkSchema>;
export type LogfileSourceConfig = z.infer<typeof logfileSourceSchema>;
export type JsonlSinkConfig = z.infer<typeof jsonlSinkSchema>;
export type SyslogSinkConfig = z.infer<typeof syslogSinkSchema>;
export type SinkFilterConfig = z.infer<typeof filterSchema>;
export type RedactConfig = z.infer<typeof redactSchema>;
export type MonitorConfig = z.infer<typeof monitorSchema>;
export type CustomCheckConfig = z.infer<typeof customCheckSchema>;
export type RepositorySinkConfig = z.infer<typeof repositorySinkSchema>;
export type CloudwatchSourceConfig = z.infer<typeof cloudwatchSourceSchema>;
export type SqsSourceConfig = z.infer<typeof sqsSourceSchema>;
export type NatsSourceConfig = z.infer<typeof natsSourceSchema>;
export type SyslogSourceConfig = z.infer<typeof syslogSourceSchema>;
export type NatsSinkConfig = z.infer<typeof natsSinkSchema>;
/** What a NATS source and sink share: servers, credentials, stream and subjects. */
export type NatsConnectionConfig = NatsSourceConfig | NatsSinkConfig;
export type ServeConfig = z.infer<typeof serveSchema>;


function issuePath(path: PropertyKey[]): string {
  return path.map((p) => String(p)).join('.') || '(top level)';
}

/** Parses and validates config text; errors name the file, line and key. */
export function parseConfig(text: string, file = DEFAULT_CONFIG_FILE): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = lineCounter.linePos(first.pos[0]).line;
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}${line ? `:${line}` : ''}: invalid YAML: ${first.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    let path = issue.path;
    let detail = issue.message;
    if (issue.code === 'unrecognized_keys') {
      path = [...issue.path, issue.keys[0]!];
      detail = `unknown key (allowed here: ${allowedKeys(issue.path, raw).join(', ')})`;
    } else if (issue.code === 'invalid_type') {
      const value = valueAt(raw, issue.path);
      detail = value === undefined ? `missing: this key is required (${a(issue.expected)})`
        : `expected ${a(issue.expected)}, found ${value === null ? 'nothing (null)' : `${a(Array.isArray(value) ? 'array' : typeof value)} (${JSON.stringify(value)})`}`;
    }
    const line = lineOf(doc, lineCounter, path);
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}${line ? `:${line}` : ''}: ${issuePath(path)}: ${detail}`);
  }
  const config = result.data;
  if (config.default_server && !config.servers[config.default_server]) {
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}: default_server: "${config.default_server}" is not one of servers (${Object.keys(config.servers).join(', ') || 'none defined'})`);
  }
  checkPipelineReferences(config, file, (path) => lineOf(doc, lineCounter, path));
  return config;
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

/** "a string", "an object", "an array". */
function a(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** Names that point elsewhere in the file must exist: a sink's inputs, a source's server. */
function checkPipelineReferences(config: Config, file: string, line: (path: PropertyKey[]) => number | undefined): void {
  const fail = (path: PropertyKey[], message: string): never => {
    const at = line(path);
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}${at ? `:${at}` : ''}: ${issuePath(path)}: ${message}`);
  };
  for (const problem of detectReferenceProblems(config.detect, Object.keys(config.pipeline.sinks))) fail(['detect', ...problem.path], problem.message);
  for (const [index, name] of config.serve.monitor.servers.entries()) {
    if (name !== '*' && !config.servers[name]) fail(['serve', 'monitor', 'servers', index], `"${name}" is not one of servers (${Object.keys(config.servers).join(', ') || 'none defined'})`);
  }
  const sources = Object.keys(config.pipeline.sources);
  for (const [name, source] of Object.entries(config.pipeline.sources)) {
    if ((source.type === 'ddl' || source.type === 'guard') && source.server && !config.servers[source.server]) {
      fail(['pipeline', 'sources', name, 'server'], `"${source.server}" is not one of servers (${Object.keys(config.servers).join(', ') || 'none defined'})`);
    }
    if (source.type === 'nats') checkNatsAuth(source, ['pipeline', 'sources', name], fail);
  }
  for (const [name, sink] of Object.entries(config.pipeline.sinks)) {
    for (const input of sink.inputs ?? []) {
      if (!sources.includes(input)) fail(['pipeline', 'sinks', name, 'inputs'], `"${input}" is not one of pipeline.sources (${sources.join(', ') || 'none defined'})`);
    }
    if (sink.type === 'webhook' && sink.secret_env && sink.secret_file) fail(['pipeline', 'sinks', name, 'secret_file'], 'give secret_env or secret_file, not both');
    if (sink.type === 'email' && sink.password_env && sink.password_file) fail(['pipeline', 'sinks', name, 'password_file'], 'give password_env or password_file, not both');
    if (sink.type === 'nats') checkNatsAuth(sink, ['pipeline', 'sinks', name], fail);
    if (sink.type === 'repository') {
      if (sink.password_env && sink.password_file) fail(['pipeline', 'sinks', name, 'password_file'], 'give password_env or password_file, not both');
      if (sink.url && sink.server) fail(['pipeline', 'sinks', name, 'server'], 'give url or server, not both');
      if (sink.server && !config.servers[sink.server]) fail(['pipeline', 'sinks', name, 'server'], `"${sink.server}" is not one of servers (${Object.keys(config.servers).join(', ') || 'none defined'})`);
      if (!sink.url && !sink.server && !config.repository?.url) fail(['pipeline', 'sinks', name], 'a repository sink needs url, server, or a top-level repository: url');
    }
  }
}

/** A NATS connection authenticates one way: user and password, a token, or a credentials file. */
function checkNatsAuth(config: NatsConnectionConfig, path: PropertyKey[], fail: (path: PropertyKey[], message: string) => never): void {
  if (config.password_env && config.password_file) fail([...path, 'password_file'], 'give password_env or password_file, not both');
  if (config.token_env && config.token_file) fail([...path, 'token_file'], 'give token_env or token_file, not both');
  if ((config.password_env || config.password_file) && !config.user) fail([...path, config.password_env ? 'password_env' : 'password_file'], 'a password needs user');
  const ways = [config.user, config.token_env ?? config.token_file, config.creds_file].filter((way) => way !== undefined).length;
  if (ways > 1) fail(path, 'authenticate one way: user (with password_env/password_file), token_env/token_file, or creds_file');
}

function allowedKeys(path: PropertyKey[], raw: unknown): string[] {
  let schema: z.ZodType = configSchema;
  let node: unknown = raw;
  for (const key of path) {
    const def = variant(unwrap(schema), node);
    if (def instanceof z.ZodObject) schema = def.shape[key as string] as z.ZodType;
    else if (def instanceof z.ZodRecord) schema = def.valueType as z.ZodType;
    else return [];
    node = (node as Record<PropertyKey, unknown> | undefined)?.[key];
  }
  const def = unwrap(schema);
  if (def instanceof z.ZodDiscriminatedUnion && !(variant(def, node) instanceof z.ZodObject)) {
    // No valid `type:` chose a variant: every variant's keys.
    return [...new Set((def.options as z.ZodObject[]).flatMap((option) => Object.keys(option.shape)))];
  }
  const chosen = variant(def, node);
  return chosen instanceof z.ZodObject ? Object.keys(chosen.shape) : [];
}

/** For a union on `type:` (pipeline sources and sinks), the variant the entry's type chose. */
function variant(def: z.ZodType, node: unknown): z.ZodType {
  if (!(def instanceof z.ZodDiscriminatedUnion)) return def;
  const type = (node as { type?: unknown } | undefined)?.type;
  return (def.options as z.ZodObject[]).find((option) => (option.shape.type as z.ZodLiteral).value === type) ?? def;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  while (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function lineOf(doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter, path: PropertyKey[]): number | undefined {
  // Point at the key itself when it exists, else at its closest existing parent.
  for (let depth = path.length; depth >= 1; depth--) {
    const parentPath = path.slice(0, depth - 1);
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath as unknown[], true);
    const node = parent as { items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> } | null;
    const pair = node?.items?.find((item) => item.key?.value === path[depth - 1]);
    const offset = pair?.key?.range?.[0];
    if (offset !== undefined) return lineCounter.linePos(offset).line;
  }
  return undefined;
}

/** Loads the config file: an explicit path must exist; the default one is optional. */
export function loadConfig(file?: string): Config {
  const path = file ?? process.env.PGWARDEN_CONFIG ?? DEFAULT_CONFIG_FILE;
  if (!existsSync(path)) {
    if (file || process.env.PGWARDEN_CONFIG) throw new PgwardenError('PGW_ERR_CONFIG', `config file ${path} does not exist`);
    return configSchema.parse({});
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PgwardenError('PGW_ERR_CONFIG', `cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a directory' : (error as Error).message}`);
  }
  return parseConfig(text, path);
}
