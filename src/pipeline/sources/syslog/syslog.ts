// The syslog source: `collect` as the receiver of servers that ship their log by syslog
// (log_destination = syslog through rsyslog or syslog-ng forwarding, a container's log driver,
// a managed platform's syslog drain). It listens on TCP (RFC 6587, octet-counted or LF frames),
// UDP (RFC 5426) and TLS (RFC 5425), reads each message's header, joins PostgreSQL's chunked
// messages into records per sender host and process (src/logs' syslog assembler, the same as
// for a syslog file) and reads the records with the configured log_line_prefix.
//
// Plain syslog has no acknowledgements: what a sender wrote to its socket is gone for it.
// So nothing is read faster than the sinks take it: once max_buffered_events wait for the
// slowest sink, the TCP and TLS sockets are no longer read; their receive buffers fill, TCP's
// window closes and the senders block (rsyslog then holds messages in its action queue). UDP
// cannot be held back: a datagram that arrives while the buffer is full is dropped and counted.
// What a crash loses is said in docs/pipeline.md#syslog-source: the events buffered here, the
// records not yet complete, and what sat in socket buffers.
//
// There is no file offset to deduplicate on. A record's identity (source.input, source.position
// and its ts) is: input `syslog:SERVER` (the configured `server`, else HOST from the syslog
// header, else the sender's address), and position a hash of the process id, PostgreSQL's
// sequence number of the record (syslog_sequence_numbers) when it has one, and the record's
// content. A record sent again (rsyslog resends the message it was writing when a connection
// broke) is byte-identical, has the same identity, and the repository stores it once. The
// content is in the position because every other part is chosen by the sender: without it, an
// allowed sender could send a harmless record under another host's name, pid, next sequence
// number and millisecond, and the real record would be dropped as its duplicate.
import { readFileSync } from 'node:fs';
import * as crypto from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { BlockList, createServer, isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import { createSecureContext, Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { PgwardenError } from '../../../core/errors.ts';
import type { ParseError, PgwardenEvent } from '../../../core/event.ts';
import { parseSyslogHeader, readSyslogMarker, SyslogAssembler } from '../../../logs/index.ts';
import type { SourceContext } from '../../build.ts';
import { positionOf } from '../../cloud-events.ts';
import { LaneBuffer, type BufferEntry } from '../../lane-buffer.ts';
import { ParseErrorLog } from '../../parse-errors.ts';
import type { Lane, Sink, Source, Wake } from '../../types.ts';
import type { SyslogSourceConfig } from './config.ts';
import { FrameDecoder, type FrameProblem } from './framing.ts';
import { SequenceGaps, udpKernelDrops } from './loss.ts';

/**
 * Message numbers given to the assembler start here: a record's events carry the number of its
 * first message as their position, which tells them apart from the offsets inside a record's
 * text that an event split off from a record's middle carries (see event()).
 */
const POSITION_BASE = 2 ** 52;
/**
 * Records waiting (in the assembler) for their end, whose sender is remembered until they are
 * out. At this many, the records the assembler itself takes as complete (nothing new for
 * STALE_AFTER messages) are finished at once rather than at the next tick: a flood of distinct
 * pids within one tick then neither grows memory nor pushes a real record's sender out.
 */
const MAX_WAITING = 50_000;
/** The assembler's STALE_LINES: a record without a new part for this many messages is complete. */
const STALE_AFTER = 1000;
/** The buffer is read from again once it is down to this share of max_buffered_events. */
const RESUME_AT = 0.5;
const KERNEL_DROPS_EVERY_MS = 5000;

export interface SyslogStats {
  /** syslog messages read (from every transport) */
  messages: number;
  /** events handed to the pipeline */
  events: number;
  connections: number;
  /** events dropped because their record's sender was no longer known (0 unless something is wrong) */
  lost_sender: number;
  /** senders outside `allow` (connections closed, datagrams dropped) */
  refused_address: number;
  /** connections over max_connections, closed */
  refused_limit: number;
  /** connections silent for idle_timeout_seconds, closed */
  idle_closed: number;
  /** connections that began a frame (or a TLS handshake) and did not finish it in frame_timeout_seconds */
  slow_closed: number;
  /** messages longer than max_message_bytes, passed over */
  oversized: number;
  /** connections given up for a frame that cannot be read (a bad octet count; LF framing on TLS) */
  bad_frames: number;
  /** TLS handshakes that failed (no or a wrong client certificate, not TLS at all) */
  tls_errors: number;
  /** messages without a syslog header, or not PostgreSQL's records */
  not_read: number;
  /** parse errors of the records (counted and logged by the shared ParseErrorLog) */
  parse_errors: number;
  /** UDP datagrams dropped because the buffer was full */
  udp_dropped_full: number;
  /** records missing by PostgreSQL's syslog sequence numbers */
  sequence_missing: number;
  /** sequence numbers that went back (a reused pid, reordered datagrams): not counted as loss */
  sequence_restarts: number;
  /** the kernel's drops on the UDP socket (receive buffer full), where /proc/net/udp shows them */
  udp_kernel_drops: number | null;
  /** how often reading was paused for a full buffer */
  pauses: number;
  paused: boolean;
}

interface Sender {
  input: string;
  pid: number | null;
  /** PostgreSQL's sequence number of the record this message begins, when it has one */
  seq: number | null;
}

interface Reader {
  socket: Socket | TLSSocket;
  decoder: FrameDecoder;
  /** since when a frame waits for its end (null: none waiting) */
  partialSince: number | null;
}

export interface SyslogSourceOptions {
  input: string;
  config: SyslogSourceConfig;
  log: Logger;
}

export class SyslogSource implements Source {
  readonly name: string;
  readonly input: string;
  readonly stats: SyslogStats = {
    messages: 0, events: 0, lost_sender: 0, connections: 0, refused_address: 0, refused_limit: 0, idle_closed: 0, slow_closed: 0,
    oversized: 0, bad_frames: 0, tls_errors: 0, not_read: 0, parse_errors: 0, udp_dropped_full: 0,
    sequence_missing: 0, sequence_restarts: 0, udp_kernel_drops: null, pauses: 0, paused: false,
  };

  private readonly config: SyslogSourceConfig;
  private readonly log: Logger;
  private readonly buffer: LaneBuffer<BufferEntry>;
  private readonly parseErrorLog: ParseErrorLog;
  private readonly assembler: SyslogAssembler;
  private readonly allow = new BlockList();
  private readonly gaps = new SequenceGaps();
  private readonly senders = new Map<number, Sender>();
  private readonly controller = new AbortController();
  /** raw TCP sockets of both TCP and TLS (what max_connections counts) */
  private readonly sockets = new Set<Socket>();
  private readonly readers = new Set<Reader>();
  private readonly servers: Server[] = [];
  private tlsServer: TlsServer | null = null;
  private udp: UdpSocket | null = null;
  private timer: NodeJS.Timeout | undefined;
  private produced: PgwardenEvent[] = [];
  /** the record whose events are coming out (an event split from its middle gets its sender) */
  private current: { sender: Sender; index: number } | null = null;
  private messageNo = 0;
  /** the message number at the last tick: records with nothing newer are complete at the next */
  private lastTick = 0;
  private lastDropsCheck = 0;
  private readonly warned = new Map<string, number>();
  private stopped = false;
  /** drain() began: no new connection or datagram is taken */
  private draining = false;

  constructor(options: SyslogSourceOptions) {
    this.input = options.input;
    this.name = options.input;
    this.config = options.config;
    this.log = options.log;
    this.buffer = new LaneBuffer<BufferEntry>(options.input, {});
    this.parseErrorLog = new ParseErrorLog(options.log, options.input);
    for (const network of options.config.allow) {
      const [address, bits] = network.split('/') as [string, string | undefined];
      const family = isIPv4(address) ? 'ipv4' : 'ipv6';
      this.allow.addSubnet(address, bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits), family);
    }
    // a bad prefix is refused here, before anything listens
    this.assembler = new SyslogAssembler(options.config.prefix, options.input, {
      event: (event) => this.event(event),
      error: (error) => this.parseError(error),
    }, (position, _line, reason, text) => this.parseError({ input: this.input, position, line: 0, reason, excerpt: text.slice(0, 200) }));
  }

  lane(sink: Sink): Lane {
    return this.buffer.lane(sink);
  }

  async start(): Promise<void> {
    if (this.buffer.laneCount === 0) {
      this.log.warn({ source: this.name }, 'no sink takes events from this source; it does not listen');
      return;
    }
    const { config } = this;
    let credentials: { cert: Buffer; key: Buffer; ca: Buffer | undefined } | null = null;
    if (config.tls) {
      const read = (key: string, file: string) => {
        try {
          return readFileSync(file);
        } catch (error) {
          throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sources.${this.input}.tls.${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
      };
      credentials = { cert: read('cert_file', config.tls.cert_file), key: read('key_file', config.tls.key_file), ca: config.tls.ca_file ? read('ca_file', config.tls.ca_file) : undefined };
      try {
        createSecureContext(credentials);
      } catch (error) {
        throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sources.${this.input}.tls: the certificate and key cannot be used: ${(error as Error).message}`);
      }
    }
    try {
      if (config.tcp_port !== undefined) await this.listenStream('tcp', config.tcp_port);
      if (config.tls_port !== undefined && credentials) {
        // Connections are taken (and checked against allow and max_connections) by a plain
        // server, then handed to a TLS server that never listens itself.
        const tlsServer = new TlsServer({
          ...credentials, minVersion: 'TLSv1.2', requestCert: config.tls!.ca_file !== undefined, rejectUnauthorized: config.tls!.ca_file !== undefined,
          handshakeTimeout: config.frame_timeout_seconds * 1000,
        });
        tlsServer.on('secureConnection', (socket: TLSSocket) => this.read(socket, false));
        tlsServer.on('tlsClientError', (error: Error, socket: TLSSocket) => {
          this.stats.tls_errors++;
          this.warn('tls', { err: error.message }, 'a TLS handshake failed; the connection is closed');
          socket.destroy(); // with this listener Node leaves it open: it would hold a max_connections slot for good
        });
        this.tlsServer = tlsServer;
        await this.listenStream('tls', config.tls_port);
      }
      if (config.udp_port !== undefined) await this.listenUdp(config.udp_port);
    } catch (error) {
      await this.stop();
      throw error;
    }
    const tick = Math.min(config.idle_flush_ms, 1000);
    this.timer = setInterval(() => this.tick(), tick);
    this.log.info({ source: this.name, host: config.host, tcp_port: config.tcp_port, udp_port: config.udp_port, tls_port: config.tls_port }, 'syslog source listening');
  }

  private listenStream(transport: 'tcp' | 'tls', port: number): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket, transport));
    server.maxConnections = this.config.max_connections * 2; // a last wall; accept() applies the limit and counts
    this.servers.push(server);
    return this.bind(transport, port, (done) => {
      server.once('error', done);
      server.listen(port, this.config.host, () => {
        server.off('error', done);
        server.on('error', (error) => this.log.error({ source: this.name, err: error.message }, 'syslog listener failed'));
        done(null);
      });
    });
  }

  private listenUdp(port: number): Promise<void> {
    const udp = createSocket({ type: isIPv6(this.config.host) ? 'udp6' : 'udp4' });
    this.udp = udp;
    udp.on('message', (message, remote) => this.datagram(message, remote.address));
    return this.bind('udp', port, (done) => {
      udp.once('error', done);
      udp.bind(port, this.config.host, () => {
        udp.off('error', done);
        udp.on('error', (error) => this.log.error({ source: this.name, err: error.message }, 'syslog UDP socket failed'));
        this.stats.udp_kernel_drops = udpKernelDrops(port);
        done(null);
      });
    });
  }

  private bind(transport: string, port: number, listen: (done: (error: Error | null) => void) => void): Promise<void> {
    return new Promise((resolve, reject) => listen((error) => {
      if (!error) return resolve();
      const code = (error as NodeJS.ErrnoException).code ?? error.message;
      const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'not allowed (a port below 1024 needs CAP_NET_BIND_SERVICE)'
        : code === 'EADDRNOTAVAIL' ? 'no interface has this address' : code;
      reject(new PgwardenError('PGW_ERR_CONFIG', `pipeline.sources.${this.input}: cannot listen on ${transport} ${this.config.host}:${port}: ${why}`));
    }));
  }

  private allowed(address: string | undefined): boolean {
    if (!address) return false;
    return this.allow.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }

  private accept(socket: Socket, transport: 'tcp' | 'tls'): void {
    const peer = socket.remoteAddress;
    if (this.stopped || this.draining || !this.allowed(peer)) {
      if (!this.stopped && !this.draining) {
        this.stats.refused_address++;
        this.warn('address', { peer }, 'a sender outside allow connected; closed');
      }
      socket.destroy();
      return;
    }
    if (this.sockets.size >= this.config.max_connections) {
      this.stats.refused_limit++;
      this.warn('limit', { peer, max_connections: this.config.max_connections }, 'too many connections; a new one is closed');
      socket.destroy();
      return;
    }
    this.stats.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // a reset by the sender: the close follows
    if (transport === 'tls') this.tlsServer!.emit('connection', socket);
    else this.read(socket, true);
  }

  /** Reads frames from a connection (plain, or TLS after its handshake). */
  private read(socket: Socket | TLSSocket, allowLf: boolean): void {
    const peer = socket.remoteAddress ?? '';
    const reader: Reader = {
      socket, partialSince: null,
      decoder: new FrameDecoder(this.config.max_message_bytes, allowLf, {
        message: (bytes) => this.message(bytes, peer),
        problem: (kind, detail) => this.frameProblem(kind, detail, peer),
      }),
    };
    this.readers.add(reader);
    socket.on('data', (chunk: Buffer) => {
      if (!reader.decoder.write(chunk)) {
        socket.destroy();
        return;
      }
      reader.partialSince = reader.decoder.partial ? reader.partialSince ?? Date.now() : null;
      this.afterMessages();
    });
    socket.on('end', () => {
      reader.decoder.end();
      this.afterMessages();
      socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.readers.delete(reader));
    socket.on('timeout', () => {
      this.stats.idle_closed++;
      this.warn('idle', { peer, idle_timeout_seconds: this.config.idle_timeout_seconds }, 'a connection was silent too long; closed');
      socket.destroy();
    });
    if (this.stats.paused) socket.pause();
    else if (this.config.idle_timeout_seconds > 0) socket.setTimeout(this.config.idle_timeout_seconds * 1000);
  }

  private frameProblem(kind: FrameProblem, detail: string, peer: string): void {
    if (kind === 'oversized') {
      this.stats.oversized++;
      this.warn('oversized', { peer }, detail);
    } else {
      this.stats.bad_frames++;
      this.warn('bad_frame', { peer }, `${detail}; the connection is closed`);
    }
  }

  private datagram(message: Buffer, peer: string): void {
    if (this.stopped || this.draining) return;
    if (!this.allowed(peer)) {
      this.stats.refused_address++;
      this.warn('address', { peer }, 'a datagram from outside allow; dropped');
      return;
    }
    if (message.length > this.config.max_message_bytes) {
      this.stats.oversized++;
      this.warn('oversized', { peer }, `a datagram of ${message.length} bytes (max_message_bytes is ${this.config.max_message_bytes}) was dropped`);
      return;
    }
    if (this.stats.paused) {
      this.stats.udp_dropped_full++;
      this.warn('udp_full', { peer, max_buffered_events: this.config.max_buffered_events }, 'the buffer is full (a sink is slow or down): a UDP datagram was dropped');
      return;
    }
    this.message(message, peer);
    this.afterMessages();
  }

  /** One syslog message: its header read, its body to the assembler. */
  private message(bytes: Buffer, peer: string): void {
    let end = bytes.length;
    while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
    const text = bytes.toString('utf8', 0, end);
    const header = parseSyslogHeader(text);
    if (header === null) {
      this.stats.not_read++;
      this.warn('not_syslog', { peer, excerpt: text.slice(0, 120) }, 'a message without an RFC 3164 or RFC 5424 header; passed over');
      return;
    }
    this.stats.messages++;
    const number = POSITION_BASE + ++this.messageNo;
    const host = header.host ?? peer;
    const marker = readSyslogMarker(header.body);
    const first = marker !== null && marker.seq !== null && marker.chunk === 1;
    if (first && header.pid !== null) this.gaps.see(host, header.pid, marker.seq!);
    // `server`, when configured, names the source: the header's HOSTNAME is the sender's claim
    this.senders.set(number, { input: `syslog:${this.config.server ?? host}`, pid: header.pid, seq: first ? marker.seq : null });
    if (this.senders.size > MAX_WAITING) {
      this.assembler.expire(number - STALE_AFTER);
      // still over: the oldest is a record that gave a parse error and no event (else its event
      // comes without a sender, is dropped and counted as lost_sender)
      if (this.senders.size > MAX_WAITING) this.senders.delete(this.senders.keys().next().value!);
    }
    const key = `${host}\u0000${header.tag}\u0000${header.pid ?? ''}`;
    if (!this.assembler.add(key, header.body, this.config.server ?? host, header.ts, number, number, header.pid)) {
      this.stats.not_read++;
      this.senders.delete(number);
      this.warn('not_postgres', { peer, tag: header.tag, excerpt: header.body.slice(0, 120) }, 'a message that does not start with the log_line_prefix and a severity; passed over');
    } else if (marker?.chunk != null && marker.chunk > 1) {
      this.senders.delete(number); // a later part: its record is named by its first
    }
  }

  /** An event of a record: its identity (see the top of this file). */
  private event(event: PgwardenEvent): void {
    const sender = event.source.position >= POSITION_BASE ? this.senders.get(event.source.position) : undefined;
    if (sender) {
      this.senders.delete(event.source.position);
      this.current = { sender, index: 0 };
    } else if (this.current) {
      // split from the middle of the record before (a line in it that reads as a record of its own)
      this.current.index++;
    } else {
      this.stats.lost_sender++;
      this.warn('lost_sender', { position: event.source.position }, 'an event whose sender is not known was dropped');
      return;
    }
    const { sender: from, index } = this.current;
    const suffix = index > 0 ? `/${index}` : '';
    const seq = from.seq !== null && from.pid !== null ? `/seq:${from.seq}` : '';
    const key = `${from.pid ?? ''}${seq}/content:${contentHash(event)}${suffix}`;
    event.source = { input: from.input, position: positionOf(key), line: null };
    this.produced.push(event);
  }

  private parseError(error: ParseError): void {
    this.parseErrorLog.record({ reason: error.reason, excerpt: error.excerpt.slice(0, 120) });
    this.stats.parse_errors = this.parseErrorLog.count;
  }

  /** Records that could not be read (collect adds them up when it stops). */
  get parseErrors(): number {
    return this.parseErrorLog.count;
  }

  /** Hands what the messages gave to the lanes, and stops reading when the buffer is full. */
  private afterMessages(): void {
    if (this.produced.length > 0) {
      const events = this.produced;
      this.produced = [];
      this.stats.events += events.length;
      this.buffer.push({ events });
    }
    this.stats.sequence_missing = this.gaps.missing;
    this.stats.sequence_restarts = this.gaps.restarts;
    if (!this.stats.paused && this.buffer.buffered >= this.config.max_buffered_events) this.pause();
  }

  private pause(): void {
    this.stats.paused = true;
    this.stats.pauses++;
    this.warn('paused', { buffered: this.buffer.buffered }, 'the buffer is full (a sink is slow or down): TCP and TLS senders are held back, UDP datagrams dropped');
    for (const reader of this.readers) {
      reader.socket.pause();
      reader.socket.setTimeout(0);
    }
    void this.buffer.waitForRoom(Math.floor(this.config.max_buffered_events * RESUME_AT), this.controller.signal).then(() => {
      if (this.stopped) return;
      this.stats.paused = false;
      this.log.debug({ source: this.name, buffered: this.buffer.buffered }, 'the buffer has room again: reading on');
      const now = Date.now();
      for (const reader of this.readers) {
        if (reader.partialSince !== null) reader.partialSince = now;
        if (this.config.idle_timeout_seconds > 0) reader.socket.setTimeout(this.config.idle_timeout_seconds * 1000);
        reader.socket.resume();
      }
    });
  }

  private tick(): void {
    // Records whose process sent nothing since the last tick are complete.
    this.assembler.expire(this.lastTick);
    this.lastTick = this.messageNo + POSITION_BASE;
    this.afterMessages();
    const now = Date.now();
    if (!this.stats.paused) {
      const limit = this.config.frame_timeout_seconds * 1000;
      for (const reader of this.readers) {
        if (reader.partialSince !== null && now - reader.partialSince > limit) {
          this.stats.slow_closed++;
          this.warn('slow', { peer: reader.socket.remoteAddress, frame_timeout_seconds: this.config.frame_timeout_seconds }, 'a frame was begun and not finished in time (a slow sender); closed');
          reader.socket.destroy();
        }
      }
    }
    if (this.udp && now - this.lastDropsCheck >= KERNEL_DROPS_EVERY_MS) this.checkKernelDrops(now);
  }

  private checkKernelDrops(now: number): void {
    this.lastDropsCheck = now;
    const before = this.stats.udp_kernel_drops;
    this.stats.udp_kernel_drops = udpKernelDrops(this.udp!.address().port);
    if (before !== null && this.stats.udp_kernel_drops !== null && this.stats.udp_kernel_drops > before) {
      this.log.warn({ source: this.name, udp_kernel_drops: this.stats.udp_kernel_drops }, 'the kernel dropped UDP datagrams (the receive buffer was full)');
    }
  }

  /** Rate-limited warnings: the first of a kind, then every 100th. */
  private warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const n = (this.warned.get(kind) ?? 0) + 1;
    this.warned.set(kind, n);
    if (n === 1 || n % 100 === 0) this.log.warn({ source: this.name, ...fields, count: n }, message);
  }

  /** Events waiting for the slowest sink. */
  get buffered(): number {
    return this.buffer.buffered;
  }

  changed(ms: number, signal: AbortSignal): Promise<Wake> {
    return this.buffer.changed(ms, signal);
  }

  /** Addresses actually bound (for a port given as in use by the config, the same). */
  addresses(): { tcp?: number; tls?: number; udp?: number } {
    const out: { tcp?: number; tls?: number; udp?: number } = {};
    const ports = this.servers.map((s) => s.address()).map((a) => (a && typeof a === 'object' ? a.port : undefined));
    let i = 0;
    if (this.config.tcp_port !== undefined) out.tcp = ports[i++];
    if (this.config.tls_port !== undefined) out.tls = ports[i++];
    if (this.udp) out.udp = this.udp.address().port;
    return out;
  }

  /**
   * What `collect status` shows: messages and events received, events lost for want of their
   * sender, the UDP loss that can be seen (datagrams dropped for a full buffer, records missing by
   * PostgreSQL's sequence numbers, the kernel's drops), connections taken and open, and the rest of
   * the stats.
   */
  counters(): Record<string, number | boolean | null> {
    const s = this.stats;
    const kernel = s.udp_kernel_drops ?? 0;
    return {
      ...s,
      udp_loss_seen: s.udp_dropped_full + s.sequence_missing + kernel,
      connections_open: this.sockets.size,
      buffered: this.buffer.buffered,
    };
  }

  /**
   * On collect's stop: closes the listeners and connections (nothing new comes in), sends on the
   * records held for their next part, and waits until every lane settled what was received, at
   * most drain_seconds. What a sender had written but this process not yet read is not here to
   * deliver (TCP and TLS have no acknowledgement); what the lanes did not settle in time is lost
   * and logged by stop() as buffered_lost.
   */
  async drain(): Promise<void> {
    if (this.stopped || this.draining) return;
    this.draining = true;
    clearInterval(this.timer);
    if (this.udp) this.checkKernelDrops(Date.now());
    const closing = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    // Complete frames were handed on as they came; a non-transparent one waiting for its LF ends here.
    for (const reader of this.readers) reader.decoder.end();
    for (const socket of this.sockets) socket.destroy();
    for (const reader of this.readers) reader.socket.destroy();
    await Promise.all(closing);
    this.servers.length = 0;
    if (this.udp) {
      const udp = this.udp;
      this.udp = null;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
    this.assembler.flush();
    this.afterMessages();
    const held = this.buffer.buffered;
    await this.buffer.waitForRoom(1, AbortSignal.timeout(this.config.drain_seconds * 1000));
    this.log.info({ source: this.name, held, delivered: held - this.buffer.buffered, left: this.buffer.buffered, drain_seconds: this.config.drain_seconds },
      'syslog source drained what it had received into the sinks before stopping');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.controller.abort();
    clearInterval(this.timer);
    if (this.udp) this.checkKernelDrops(Date.now());
    // close() waits for every connection to end: they are ended first
    const closing = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const socket of this.sockets) socket.destroy();
    for (const reader of this.readers) reader.socket.destroy();
    await Promise.all(closing);
    if (this.udp) await new Promise<void>((resolve) => this.udp!.close(() => resolve()));
    this.buffer.stop();
    this.log.info({ source: this.name, ...this.stats, buffered_lost: this.buffer.buffered }, 'syslog source stopped');
  }
}

/** One-shot hashing (Node 20.12+, 21.7+) where there is one: no Hash object per event. */
const sha256: (text: string) => string = typeof crypto.hash === 'function'
  ? (text) => crypto.hash('sha256', text, 'base64url')
  : (text) => crypto.createHash('sha256').update(text).digest('base64url');

/** The content of a record: every field it gave, but where it was read. */
function contentHash(event: PgwardenEvent): string {
  return sha256(JSON.stringify({ ...event, source: null })).slice(0, 22);
}

export async function build({ name, config, log }: SourceContext<SyslogSourceConfig>): Promise<Source[]> {
  return [new SyslogSource({ input: name, config, log })];
}
