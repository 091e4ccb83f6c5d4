// Reading an event's time and the fields rules group by, count and key on.
import ipaddr from 'ipaddr.js';
import type { PgwardenEvent } from '../core/event.ts';
import type { Field } from './types.ts';

/**
 * Milliseconds since the epoch of an event's `ts` (ISO-8601 with milliseconds and offset, as
 * every pgwarden source writes it), or NaN. The fixed shape is read digit by digit; anything else
 * goes through Date.parse.
 */
export function eventTime(ts: string | null): number {
  if (ts === null) return NaN;
  if (ts.length === 29 && ts.charCodeAt(10) === 84 && ts.charCodeAt(19) === 46) {
    // No closure here: this runs for every event.
    const year = digits(ts, 0, 4);
    const month = digits(ts, 5, 2);
    const day = digits(ts, 8, 2);
    const ms = (digits(ts, 11, 2) * 60 + digits(ts, 14, 2)) * 60_000 + digits(ts, 17, 2) * 1000 + digits(ts, 20, 3);
    const offset = (ts.charCodeAt(23) === 45 ? -1 : 1) * (digits(ts, 24, 2) * 60 + digits(ts, 27, 2)) * 60_000;
    if (ms >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= 31) return daysFromCivil(year, month, day) * 86_400_000 + ms - offset;
  }
  return Date.parse(ts);
}

/** The number written by `count` decimal digits at `at` (a non-digit makes it NaN or negative, which the caller rejects). */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1e9;
    value = value * 10 + c;
  }
  return value;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

/** A client's network for first-seen keys: an IPv4 address to /24, IPv6 to /64 (configurable); `[local]` and host names as they are. */
export class NetworkOf {
  private readonly cache = new Map<string, string>();
  constructor(private readonly ipv4Prefix: number, private readonly ipv6Prefix: number) {}

  of(address: string | null): string | null {
    if (address === null) return null;
    const known = this.cache.get(address);
    if (known !== undefined) return known;
    const network = maskAddress(address, this.ipv4Prefix, this.ipv6Prefix) ?? address;
    if (this.cache.size >= 10_000) this.cache.clear(); // addresses are client-chosen in number: stay bounded
    this.cache.set(address, network);
    return network;
  }
}

/** `10.1.2.0/24` for 10.1.2.3 with prefix 24; null when the text is not an IP address. */
export function maskAddress(address: string, ipv4Prefix: number, ipv6Prefix: number): string | null {
  if (!ipaddr.isValid(address)) return null;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const prefix = parsed.kind() === 'ipv4' ? ipv4Prefix : ipv6Prefix;
  const bytes = parsed.toByteArray();
  for (let bit = prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return `${ipaddr.fromByteArray(bytes).toString()}/${prefix}`;
}

/** The value of a field of an event, as text (numbers too), or null. */
export function fieldValue(event: PgwardenEvent, field: Field, networks: NetworkOf): string | null {
  switch (field) {
    case 'server': return event.server;
    case 'user': return event.user;
    case 'role': return event.ddl?.current_user ?? event.user;
    case 'database': return event.database;
    case 'application': return event.application;
    case 'client_addr': return event.client_addr;
    case 'client_network': return networks.of(event.client_addr);
    case 'session_id': return event.session_id;
    case 'pid': return event.pid === null ? null : String(event.pid);
    case 'object': return event.audit?.object_name ?? event.ddl?.object_identity ?? null;
    case 'command': return event.audit?.command ?? event.ddl?.command_tag ?? null;
    case 'kind': return event.kind;
    case 'sqlstate': return event.sqlstate;
  }
}
