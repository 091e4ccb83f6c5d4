// Responses, described: what each configured action of a rule would do about an incident, and
// why it would not. Nothing here acts (phase B executes them; `detect replay` only ever
// describes). Targets come only from what the server wrote about the sessions behind the
// incident — the session's pid, its session user, its client address — never from statement
// text or application_name; and no response ever touches a superuser, a break-glass role,
// pgwarden's own roles, detect.responses.protected_roles or protected_networks, or a Unix socket.
import ipaddr from 'ipaddr.js';
import { isoTime, maskAddress } from './fields.ts';
import { compileClients, compileGlobs } from './match.ts';
import { PGWARDEN_ROLES } from './signals.ts';
import type { ActionSpec, ActionType, DetectFacts, IncidentView, RuleSpec } from './types.ts';

export interface DescribedResponse {
  action: ActionType;
  /** what it would act on; null when there is nothing it may act on */
  target: Record<string, unknown> | null;
  /** what it would do, in one line */
  would: string;
  /** always false in this version: responses are described, never done */
  done: false;
  /** why it would not act, or null */
  refused: string | null;
  /** when a lock or block would be lifted (record time), or null */
  until: string | null;
}

export interface ResponseContext {
  facts: DetectFacts;
  breakGlassRoles: readonly string[];
  protectedRoles: readonly string[];
  protectedNetworks: readonly string[];
}

export class ResponsePlanner {
  private readonly breakGlass: (name: string) => boolean;
  private readonly protectedRole: (name: string) => boolean;
  private readonly protectedNetwork: (address: string) => boolean;

  constructor(private readonly context: ResponseContext) {
    const exact = new Set(context.breakGlassRoles);
    this.breakGlass = (name) => exact.has(name);
    const roles = compileGlobs(context.protectedRoles);
    this.protectedRole = (name) => roles !== null && roles(name);
    const networks = compileClients(context.protectedNetworks);
    this.protectedNetwork = (address) => networks !== null && networks(address);
  }

  describe(rule: RuleSpec, incident: IncidentView): DescribedResponse[] {
    return rule.actions.map((action) => this.one(action, incident));
  }

  /** Why a role may never be locked or have its sessions ended by pgwarden, or null. */
  private roleProtection(server: string | null, role: string): string | null {
    const facts = this.context.facts.role(server, role);
    if (facts?.superuser) return `${role} is a superuser`;
    if (this.breakGlass(role)) return `${role} is a break-glass role (guard.break_glass_roles)`;
    if (PGWARDEN_ROLES.has(role)) return `${role} is one of pgwarden's own roles`;
    if (this.protectedRole(role)) return `${role} is protected (detect.responses.protected_roles)`;
    return null;
  }

  private one(action: ActionSpec, incident: IncidentView): DescribedResponse {
    const from = Number.isNaN(incident.last_ms) ? null : incident.last_ms;
    switch (action.type) {
      case 'terminate': {
        const sessions = incident.sessions.filter((s) => s.user === null || this.roleProtection(incident.server, s.user) === null);
        const skipped = incident.sessions.length - sessions.length;
        if (incident.sessions.length === 0) return refuse('terminate', 'the incident\'s records name no session (a failed login has none)');
        if (sessions.length === 0) return refuse('terminate', this.roleProtection(incident.server, incident.sessions[0]!.user ?? '') ?? 'protected sessions');
        return {
          action: 'terminate', target: { server: incident.server, sessions: sessions.map((s) => ({ pid: s.pid, session_id: s.session_id, user: s.user, database: s.database })) },
          would: `end ${sessions.map((s) => `pid ${s.pid}${s.session_id ? ` (session ${s.session_id})` : ''}`).join(', ')} with pg_terminate_backend, if still the same session`
            + (skipped > 0 ? `; ${skipped} protected session(s) left alone` : ''),
          done: false, refused: null, until: null,
        };
      }
      case 'lock_role': {
        const role = incident.user;
        if (role === null) return refuse('lock_role', 'the incident names no role');
        const protection = this.roleProtection(incident.server, role);
        if (protection !== null) return refuse('lock_role', protection, { server: incident.server, role });
        const until = from === null ? null : isoTime(from + action.duration_ms);
        return {
          action: 'lock_role', target: { server: incident.server, role },
          would: `ALTER ROLE ${quoteIdent(role)} NOLOGIN on ${incident.server ?? 'the server'}, and LOGIN again after ${minutes(action.duration_ms)}`,
          done: false, refused: null, until,
        };
      }
      case 'block_client': {
        const address = incident.client_addr;
        if (address === null) return refuse('block_client', 'the incident names no client address');
        if (address === '[local]') return refuse('block_client', 'a Unix-socket client cannot be blocked by network', { client_addr: address });
        if (!ipaddr.isValid(address)) return refuse('block_client', `${address} is not an IP address (log_hostname?)`, { client_addr: address });
        if (this.protectedNetwork(address)) return refuse('block_client', `${address} is in detect.responses.protected_networks`, { client_addr: address });
        const network = maskAddress(address, action.ipv4_prefix, action.ipv6_prefix)!;
        const tooWide = networkTooWide(network);
        if (tooWide !== null) return refuse('block_client', tooWide, { client_addr: address });
        const until = from === null ? null : isoTime(from + action.duration_ms);
        return {
          action: 'block_client', target: { server: incident.server, network },
          would: `add a connection guard deny rule for ${network} in every guarded database of ${incident.server ?? 'the server'}, removed after ${minutes(action.duration_ms)}`,
          done: false, refused: null, until,
        };
      }
    }
  }
}

/** The longest lock or block (the SQL functions refuse longer ones too): a response is temporary. */
export const MAX_RESPONSE_MS = 30 * 86_400_000;

/**
 * Why a network is too wide to block, or null: shorter than IPv4 /8 or IPv6 /16 (the bounds of
 * ipv4_prefix and ipv6_prefix), or holding every IPv4-mapped or IPv4-compatible address
 * (::ffff:0:0/96, ::/96), which would refuse IPv4 clients as well. The SQL function refuses the same.
 */
export function networkTooWide(network: string): string | null {
  const [address, prefix] = ipaddr.isValidCIDR(network) ? ipaddr.parseCIDR(network) : [ipaddr.parse(network), null];
  const bits = prefix ?? (address.kind() === 'ipv4' ? 32 : 128);
  if (address.kind() === 'ipv4') return bits < 8 ? `${network} is wider than /8: it would block nearly everyone` : null;
  if (bits < 16) return `${network} is wider than /16: it would block nearly everyone`;
  if (bits <= 96) {
    const v6 = address as ipaddr.IPv6;
    for (const [base, len] of [[ipaddr.parse('::ffff:0:0'), 96], [ipaddr.parse('::'), 96]] as const) {
      if ((base as ipaddr.IPv6).match(v6, bits)) return `${network} holds every IPv4-mapped or IPv4-compatible address (::ffff:0:0/${len}, ::/${len})`;
    }
  }
  return null;
}

function refuse(action: ActionType, why: string, target: Record<string, unknown> | null = null): DescribedResponse {
  return { action, target, would: 'nothing', done: false, refused: why, until: null };
}

function minutes(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
