// The responses of detection inside collect (detect.in_collect): for each opened incident whose
// rule has actions, Responder.respond(rule, alert) against the alert's server (a name under
// servers:), and pgwarden_responder.lift_expired() at start and every minute, so that a lock ends
// on time while collect runs (cron covers the time it does not: docs/detect.md, "Expiry while
// collect is down"). It is a consumer of the detection outbox like an alert sink (detect-stage.ts):
// a response not yet done when collect dies is done by the next one, and the response ids
// (`<incident>:<action>`) make a second call act no more.
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { resolveTarget } from '../core/db.ts';
import { Responder } from '../detect/responder.ts';
import type { RuleSpec } from '../detect/types.ts';
import type { PendingAlert, Sink } from './types.ts';

/** How often collect lifts the locks whose time has come. */
export const LIFT_INTERVAL_MS = 60_000;
export const RESPONDER_NAME = '(responses)';

export class CollectResponder {
  private readonly responders = new Map<string, Responder>();
  private timer: NodeJS.Timeout | undefined;
  private lifting: Promise<void> = Promise.resolve();

  /** `servers`: the servers collect reads (their sources' server:), whose expired locks it lifts. */
  constructor(private readonly config: Config, private readonly servers: string[], private readonly rules: Map<string, RuleSpec>,
    private readonly log: Logger, private readonly liftEveryMs = LIFT_INTERVAL_MS) {}

  private responderFor(server: string | null): Responder | null {
    if (server === null || !Object.hasOwn(this.config.servers, server)) return null;
    let responder = this.responders.get(server);
    if (!responder) {
      // detect.responses.dry_run: every check the server makes, recorded as dry_run, nothing done
      responder = new Responder(resolveTarget({ server }, this.config), { dryRun: this.config.detect.responses.dry_run });
      this.responders.set(server, responder);
    }
    return responder;
  }

  /** The outbox consumer: resolves once the responses are done or refused (recorded); rejects to be retried. */
  sink(): Sink {
    return {
      name: RESPONDER_NAME, type: 'responder', inputs: undefined,
      deliver: async () => undefined,
      deliverAlert: (pending) => this.respond(pending),
      close: async () => undefined,
    };
  }

  private async respond({ notice }: PendingAlert): Promise<void> {
    const { alert } = notice;
    const rule = this.rules.get(alert.rule);
    const responder = this.responderFor(alert.server);
    if (!rule || !responder) {
      this.log.warn({ rule: alert.rule, server: alert.server, incident: alert.id }, 'no response: the alert\'s server is not one of servers:, so collect cannot reach it');
      return;
    }
    const records = await responder.respond(rule, alert);
    for (const r of records) this.log.info({ rule: alert.rule, incident: alert.id, action: r.action, outcome: r.outcome, role: r.role, network: r.network, session_pid: r.pid, until: r.until, reason: r.reason }, 'response');
  }

  /** Lifts what expired now and then every liftEveryMs; a failure is a warning, tried again at the next tick. */
  start(): void {
    const tick = () => {
      this.lifting = this.lifting.then(() => this.liftAll());
    };
    tick();
    this.timer = setInterval(tick, this.liftEveryMs);
    this.timer.unref();
  }

  private async liftAll(): Promise<void> {
    for (const server of this.servers) {
      const responder = this.responderFor(server);
      if (!responder) continue;
      try {
        for (const r of await responder.liftExpired()) this.log.info({ server, action: r.action, outcome: r.outcome, role: r.role, network: r.network, reason: r.reason }, 'lifted');
      } catch (error) {
        this.log.warn({ server, err: (error as Error).message }, 'cannot lift expired responses now; trying again');
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.lifting;
  }
}
