// What the nats source and sink share: the connection (servers, one way to authenticate, TLS),
// the messages (a server's events as JSON lines, on its subject, with the id JetStream
// deduplicates on), and which errors are a mistake to stop for. The connection retries for ever by itself: a NATS server that is
// down is waited for, credentials it refuses are not.
import { readFileSync } from 'node:fs';
// The NATS client is loaded when a connection is made, so that commands without NATS do not pay for it.
import type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { readSecret, type NatsConnectionConfig } from '../core/config.ts';
import { PgwardenError } from '../core/errors.ts';
import type { PgwardenEvent } from '../core/event.ts';
import { sleep } from '../core/sleep.ts';

/** The subject of a server's events: PREFIX.SERVER, the server name made a valid subject token. */
export function subjectFor(prefix: string, server: string | null): string {
  const token = (server ?? '').replace(/[^A-Za-z0-9_-]/g, '_') || '_unknown';
  return `${prefix}.${token}`;
}

/**
 * The repository's own key of an event (time, server, source input, source position), as text for
 * a message id. The server is in it: two servers' logs share file names and offsets, and JetStream
 * would drop the second server's message as a duplicate of the first's.
 */
export function eventKey(event: PgwardenEvent): string {
  return `${event.ts ?? ''}|${event.source.position}|${encodeURIComponent(event.server ?? '')}|${event.source.input}`.replace(/[\r\n%]/g, encodeURIComponent);
}

/** A NATS message of events: one server's, as JSON lines, with the id JetStream deduplicates on. */
export interface EventMessage {
  subject: string;
  payload: string;
  /** the first event's key and the number of events: the same events sent again give the same id */
  id: string;
  events: number;
}

/**
 * Cuts a batch into messages: per server (its subject), in order, at most `perMessage` events
 * and `maxBytes` each. The same batch always gives the same messages, so a batch published
 * again (a retry, or after a crash from the same checkpoint) is dropped by JetStream's dedup.
 */
export function eventMessages(events: PgwardenEvent[], prefix: string, perMessage: number, maxBytes: number): EventMessage[] {
  const byServer = new Map<string | null, PgwardenEvent[]>();
  for (const event of events) {
    const list = byServer.get(event.server);
    if (list) list.push(event);
    else byServer.set(event.server, [event]);
  }
  const messages: EventMessage[] = [];
  for (const [server, list] of byServer) {
    const subject = subjectFor(prefix, server);
    let payload = '';
    let bytes = 0;
    let count = 0;
    let first = '';
    for (const event of list) {
      const line = `${JSON.stringify(event)}\n`;
      const size = Buffer.byteLength(line);
      if (count > 0 && (count >= perMessage || bytes + size > maxBytes)) {
        messages.push({ subject, payload, id: `${first}+${count}`, events: count });
        payload = '';
        bytes = 0;
        count = 0;
      }
      if (count === 0) first = eventKey(event);
      payload += line;
      bytes += size;
      count++;
    }
    if (count > 0) messages.push({ subject, payload, id: `${first}+${count}`, events: count });
  }
  return messages;
}

/** NATS errors that retrying does not mend: refused credentials, missing permissions. */
export function natsFatalError(error: unknown, what: string): PgwardenError | null {
  const { name, message } = (error ?? {}) as { name?: string; message?: string };
  if (name === 'AuthorizationError' || name === 'UserAuthenticationExpiredError') {
    return new PgwardenError('PGW_ERR_NATS', `${what}: NATS refused the credentials: ${message}`, { cause: error });
  }
  if (name === 'PermissionViolationError' || /permissions? violation/i.test(message ?? '')) {
    return new PgwardenError('PGW_ERR_NATS', `${what}: NATS refused a permission: ${message}`, { cause: error });
  }
  return null;
}

/** Nanoseconds, as JetStream's durations are given. */
export function nanos(milliseconds: number): number {
  return milliseconds * 1_000_000;
}

/** A NATS connection that keeps trying to connect in the background until closed. */
export class NatsLink {
  private connection: NatsConnection | null = null;
  private failure: PgwardenError | null = null;
  private readonly options: ConnectionOptions;
  private readonly creds: Uint8Array | undefined;
  private readonly first: Promise<void>;
  private readonly controller = new AbortController();

  constructor(private readonly config: NatsConnectionConfig, private readonly where: string, private readonly name: string, private readonly log: Logger) {
    const password = readSecret(where, config.password_env, config.password_file);
    const token = readSecret(where, config.token_env, config.token_file, ['token_env', 'token_file']);
    if (config.creds_file) {
      try {
        this.creds = readFileSync(config.creds_file);
      } catch (error) {
        throw new PgwardenError('PGW_ERR_CONFIG', `${where}.creds_file: cannot read ${config.creds_file}: ${(error as Error).message}`, { cause: error });
      }
    }
    this.options = {
      servers: config.servers,
      name,
      user: config.user,
      pass: password,
      token,
      tls: config.tls ? { caFile: config.tls.ca_file, certFile: config.tls.cert_file, keyFile: config.tls.key_file } : undefined,
      timeout: config.timeout_seconds * 1000,
      // once connected, the client reconnects by itself for ever
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    };
    this.first = this.connectLoop();
    // a refusal after open() stopped waiting is reported by get()
    this.first.catch(() => undefined);
  }

  /** Until the first connection: try every server, wait, again (the client's own retries start after it). */
  private async connectLoop(): Promise<void> {
    const { connect, credsAuthenticator } = await import('@nats-io/transport-node');
    const options = this.creds ? { ...this.options, authenticator: credsAuthenticator(this.creds) } : this.options;
    for (let attempt = 1; !this.controller.signal.aborted; attempt++) {
      try {
        const connection = await connect(options);
        if (this.controller.signal.aborted) {
          await connection.close();
          return;
        }
        this.connection = connection;
        void this.watch(connection);
        return;
      } catch (error) {
        const fatal = natsFatalError(error, this.where);
        if (fatal) {
          this.failure = fatal;
          throw fatal;
        }
        if (attempt === 1 || attempt % 30 === 0) {
          this.log.warn({ component: this.name, servers: this.config.servers, err: (error as Error).message, attempts: attempt }, 'cannot reach NATS; will keep trying');
        }
        await sleep(Math.min(5000, 500 * attempt), this.controller.signal);
      }
    }
  }

  private async watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect') this.log.warn({ component: this.name, server: status.server }, 'NATS connection lost; reconnecting');
      else if (status.type === 'reconnect') this.log.info({ component: this.name, server: status.server }, 'NATS connection back');
    }
  }

  /** Waits up to timeout_seconds for the first connection: a refusal is thrown, slowness only logged. */
  async open(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), this.config.timeout_seconds * 1000); });
    try {
      if (await Promise.race([this.first, timeout]) === 'timeout') {
        this.log.warn({ component: this.name, servers: this.config.servers }, 'NATS not reachable yet; waiting for it');
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** The connection, or an error saying why there is none yet. */
  get(): NatsConnection {
    if (this.connection && !this.connection.isClosed()) return this.connection;
    if (this.failure) throw this.failure;
    throw new Error(`not connected to NATS (${this.config.servers.join(', ')})`);
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.first.catch(() => undefined);
    const connection = this.connection;
    this.connection = null;
    if (connection && !connection.isClosed()) await connection.drain().catch(() => connection.close());
  }
}
