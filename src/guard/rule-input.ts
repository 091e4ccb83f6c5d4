// Validates rule input before anything reaches the database, so a bad value gets a
// one-line error that names it and nothing is written.
import ipaddr from 'ipaddr.js';
import { PgwardenError } from '../core/errors.ts';
import { validateName } from './names.ts';

export { validateName };

export type RuleAction = 'allow' | 'deny';

export interface RuleInput {
  action: RuleAction;
  roles: string[];
  applications?: string[];
  /** CIDRs (normalised) and/or the word `local` for Unix-socket connections. */
  clients?: string[];
  databases?: string[];
  message?: string;
  priority?: number;
}

export interface NormalisedRule {
  action: RuleAction;
  roles: string[];
  applications: string[] | null;
  clients: string[] | null;
  localSocket: boolean;
  databases: string[] | null;
  message: string | null;
  priority: number;
}

/** What a refused client is told when its rule has no message; guard_refuse() in the migration says the same. */
export const DEFAULT_REFUSAL_MESSAGE = 'not allowed by the connection policy';

function invalid(message: string): PgwardenError {
  return new PgwardenError('PGW_ERR_INVALID_VALUE', message);
}

/** An ILIKE pattern is invalid only when it ends in an unescaped backslash (the escape character). */
export function validateLikePattern(pattern: string): void {
  if (pattern === '') throw invalid('--app "" is empty: use \'%\' to match any application');
  const trailing = /\\*$/.exec(pattern)![0].length;
  if (trailing % 2 === 1) {
    throw invalid(`--app "${pattern}" is not a valid ILIKE pattern: it ends with the escape character \\ (write \\\\ for a literal backslash)`);
  }
}

/** Parses `local`, an address (becomes /32 or /128) or a CIDR; refuses host bits right of the mask. */
export function normaliseClient(value: string): string {
  if (value === 'local') return value;
  try {
    if (!value.includes('/')) return `${ipaddr.parse(value).toString()}/${ipaddr.parse(value).kind() === 'ipv4' ? 32 : 128}`;
    const [address, bits] = ipaddr.parseCIDR(value);
    const network = address.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(value)
      : ipaddr.IPv6.networkAddressFromCIDR(value);
    if (network.toString() !== address.toString()) {
      throw invalid(`--client "${value}" has host bits set right of the /${bits} mask (did you mean ${network.toString()}/${bits}?)`);
    }
    return `${address.toString()}/${bits}`;
  } catch (error) {
    if (error instanceof PgwardenError) throw error;
    throw invalid(`--client "${value}" is not an IP address, a CIDR such as 10.0.0.0/8, or the word local`);
  }
}

export function normaliseRule(input: RuleInput): NormalisedRule {
  if (input.roles.length === 0) throw invalid("at least one --role is required (use --role '*' for every role)");
  // '+group' matches the members of a group role (as in pg_hba.conf).
  for (const role of input.roles) if (role !== '*') validateName('--role', role.startsWith('+') ? role.slice(1) : role);
  for (const app of input.applications ?? []) validateLikePattern(app);
  for (const database of input.databases ?? []) validateName('--database', database);
  const clients = (input.clients ?? []).map(normaliseClient);
  const networks = clients.filter((c) => c !== 'local');
  if (input.priority !== undefined) parsePriority(String(input.priority));
  if (input.message !== undefined && input.message.trim() === '') throw invalid('--message is empty: leave it out for the default message');
  if (input.message !== undefined && input.message.length > 2000) throw invalid('--message is longer than 2000 characters');
  return {
    action: input.action,
    roles: input.roles.includes('*') ? ['*'] : [...new Set(input.roles)],
    applications: input.applications?.length ? [...new Set(input.applications)] : null,
    clients: networks.length ? [...new Set(networks)] : null,
    localSocket: clients.includes('local'),
    databases: input.databases?.length ? [...new Set(input.databases)] : null,
    message: input.message ?? null,
    priority: input.priority ?? 100,
  };
}

/** Parses --priority text strictly (commander hands over strings). */
export function parsePriority(text: string): number {
  if (!/^-?\d+$/.test(text)) throw invalid(`--priority "${text}" is not a whole number`);
  const value = Number(text);
  if (value < -2_147_483_648 || value > 2_147_483_647) throw invalid(`--priority "${text}" is outside -2147483648..2147483647`);
  return value;
}
