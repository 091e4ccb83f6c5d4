// `detect:` in pgwarden.yaml (docs/detect.md): the detection rules, their thresholds, and what
// the rules need to know (sensitive objects, application roles, business hours). Composed into
// the config schema by src/core/config.ts, which reports errors with file:line and allowed keys.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { EVENT_KINDS } from '../core/event.ts';
import { BUILTIN_RULES } from './rules/index.ts';
import { FAILED_LOGIN_ACTIONS_NOTE } from './rules/rule.ts';
import { DURATION, duration, durationMs, globs, positiveDuration } from './schema.ts';
import { ACTIONS, FIELDS, ROLE_CLASSES, SEVERITIES, SIGNALS, type ActionType } from './types.ts';

const regexes = z.array(z.string().min(1).refine((text) => {
  try {
    new RegExp(text, 'i');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression')).min(1);
const cidrs = z.array(z.string().refine((text) => text === 'local' || text === '[local]' || ipaddr.isValid(text) || ipaddr.isValidCIDR(text),
  'a network such as 10.0.0.0/8, an address, or local (Unix socket)')).min(1);

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const HOURS = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]|24):[0-5]\d$/;

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const businessHoursSchema = z.strictObject({
  days: z.array(z.enum(DAYS)).default(['mon', 'tue', 'wed', 'thu', 'fri']),
  /** local times HH:MM-HH:MM, end excluded; a range may run past midnight (22:00-06:00) */
  hours: z.array(z.string().regex(HOURS, 'HH:MM-HH:MM, e.g. 08:00-18:00')).min(1).default(['08:00-18:00']),
  /** an IANA time zone (Europe/Berlin, America/New_York, UTC) */
  zone: z.string().refine(validZone, 'an IANA time zone such as Europe/Berlin or UTC').default('UTC'),
});

/** What a rule matches: every key given must match; a list matches when any of its values does. */
export const matchSchema = z.strictObject({
  kinds: z.array(z.enum(EVENT_KINDS)).min(1).optional(),
  /** what pgwarden recognised in the event (docs/detect.md, "Signals") */
  signals: z.array(z.enum(SIGNALS)).min(1).optional(),
  users: globs.optional(),
  /** role classes of the session user: privileged (superuser, createrole or bypassrls), application, pgwarden, … */
  roles: z.array(z.enum(ROLE_CLASSES)).min(1).optional(),
  databases: globs.optional(),
  /** application_name: a client's claim, never proof */
  applications: globs.optional(),
  /** client networks or addresses; local is a Unix socket */
  clients: cidrs.optional(),
  /** schema-qualified object names (pgAudit object_name, DDL object_identity): hr.*, public.cards */
  objects: globs.optional(),
  object_types: globs.optional(),
  /** pgAudit commands or DDL command tags: UPDATE, 'DROP *' */
  commands: globs.optional(),
  /** pgAudit classes: READ, WRITE, FUNCTION, ROLE, DDL, MISC, MISC_SET */
  classes: globs.optional(),
  sqlstates: globs.optional(),
  severities: globs.optional(),
  /** regular expressions searched in the statement text (case-insensitive) */
  statements: regexes.optional(),
  /** regular expressions searched in the message (case-insensitive) */
  messages: regexes.optional(),
  /** the statement gives one of these role attributes or role memberships: SUPERUSER, pg_execute_server_program */
  grants: globs.optional(),
  /** the statement or record changes one of these settings: pgaudit.*, log_* */
  settings: globs.optional(),
  /** the statement calls one of these functions: pg_read_file, lo_import */
  functions: globs.optional(),
  /** the statement creates or runs code in one of these languages: c, plpython3u */
  languages: globs.optional(),
  /** pgAudit rows (pgaudit.log_rows) at least this */
  min_rows: z.number().int().min(0).optional(),
  /** the role's previous login was at least this long before (needs history: see docs/detect.md) */
  idle_for: positiveDuration.optional(),
  /** inside or outside detect.business_hours (or the rule's own business_hours) */
  when: z.enum(['business_hours', 'off_hours']).optional(),
});

/** A lock or block: temporary, at most 30 days (the SQL functions refuse longer ones too). */
const responseDuration = positiveDuration.refine((text) => !DURATION.test(text) || durationMs(text) <= 30 * 86_400_000, 'must be at most 30d');

const terminateAction = z.strictObject({ type: z.literal('terminate') });
const lockRoleAction = z.strictObject({
  type: z.literal('lock_role'),
  /** how long the role stays NOLOGIN before it is unlocked */
  duration: responseDuration.default('30m'),
});
const blockClientAction = z.strictObject({
  type: z.literal('block_client'),
  duration: responseDuration.default('1h'),
  /** block the client's network of this prefix length (default: the address alone) */
  ipv4_prefix: z.number().int().min(8).max(32).default(32),
  ipv6_prefix: z.number().int().min(16).max(128).default(128),
});
const ACTION_SCHEMAS = { terminate: terminateAction, lock_role: lockRoleAction, block_client: blockClientAction } as const;

/** The actions a rule may take; `why` says why the others are not allowed on it. */
export function actionsSchema(allowed: readonly ActionType[], why?: string) {
  const options = allowed.map((type) => ACTION_SCHEMAS[type]);
  const list = allowed.join(', ');
  const message = `type must be ${list || 'nothing: this rule takes no actions'}${why ? ` (${why})` : ''}`;
  if (options.length === 0) return z.array(z.never({ error: message })).max(0, message);
  return z.array(z.discriminatedUnion('type', options as unknown as [typeof terminateAction, typeof lockRoleAction, typeof blockClientAction], { error: message }));
}

/** Keys every rule has, built-in or custom. */
const ruleCommon = {
  enabled: z.boolean().optional(),
  severity: z.enum(SEVERITIES).optional(),
  /** exceptions: an event that matches any of these is not counted */
  ignore: z.array(matchSchema).optional(),
  /** after an alert, further updates of the same incident wait at least this long */
  throttle: duration.optional(),
  /** an incident without a new event for this long is closed; the next event opens a new one */
  close_after: positiveDuration.optional(),
  /** pipeline sinks that receive this rule's alerts (default: every alert sink) */
  sinks: z.array(z.string().min(1)).min(1).optional(),
  business_hours: businessHoursSchema.optional(),
  /** more tags for the alerts */
  tags: z.array(z.string().min(1)).optional(),
};

const groupBy = z.array(z.enum(FIELDS)).max(6);

/** Built-in rules: the common keys, the rule's own thresholds, and the actions it allows. */
const builtinRulesSchema = z.strictObject(Object.fromEntries(BUILTIN_RULES.map((rule) => [rule.id,
  z.strictObject({ ...ruleCommon, ...rule.params, actions: actionsSchema(rule.actions, rule.actionsNote).optional() }).prefault({})])));

const customCommon = {
  ...ruleCommon,
  description: z.string().min(1),
  actions: actionsSchema(ACTIONS).optional(),
  group_by: groupBy.optional(),
};

const customRuleSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('match'), ...customCommon, match: matchSchema }),
  z.strictObject({
    type: z.literal('threshold'), ...customCommon, match: matchSchema,
    threshold: z.number().int().min(1).max(10_000),
    window: positiveDuration,
    /** count distinct values of this field instead of events */
    distinct: z.enum(FIELDS).optional(),
  }),
  z.strictObject({
    type: z.literal('first_seen'), ...customCommon, match: matchSchema,
    /** the combination that must have been seen before (learned for detect.learning) */
    key: z.array(z.enum(FIELDS)).min(1).max(6),
    /** a new combination alerts only when its event also matches this (combinations are learned from every match) */
    alert_if: matchSchema.optional(),
  }),
  z.strictObject({
    type: z.literal('sequence'), ...customCommon,
    /** each step in turn, within `within` of the first */
    steps: z.array(z.strictObject({ match: matchSchema, count: z.number().int().min(1).max(10_000).default(1) })).min(2).max(8),
    within: positiveDuration,
  }),
], { error: 'type must be match, threshold, first_seen or sequence' }).superRefine((rule, ctx) => {
  // A response event is pgwarden's own record of a response: a rule reading it that acted would
  // answer its own response (a new incident, a new row, a new event, for ever).
  const matches = rule.type === 'sequence' ? rule.steps.map((s) => s.match) : [rule.match, ...(rule.type === 'first_seen' && rule.alert_if ? [rule.alert_if] : [])];
  if ((rule.actions ?? []).length > 0 && matches.some((m) => m.kinds?.includes('response'))) {
    ctx.addIssue({ code: 'custom', path: ['actions'], message: 'a rule that reads response events takes no actions (it would respond to its own responses)' });
  }
  // On a failed or refused login the role is the client's choice: only block_client may act on it.
  const last = rule.type === 'sequence' ? rule.steps[rule.steps.length - 1]!.match : rule.match;
  if (!onlyFailedLogins(last)) return;
  for (const [index, action] of (rule.actions ?? []).entries()) {
    if (action.type !== 'block_client') ctx.addIssue({ code: 'custom', path: ['actions', index, 'type'], message: `${action.type} is not allowed on a rule that matches only failed or refused logins (${FAILED_LOGIN_ACTIONS_NOTE})` });
  }
});

const FAILED_KINDS = new Set(['auth_failed', 'guard_deny']);
const FAILED_SIGNALS = new Set(['login_failed', 'unknown_role', 'guard_refusal']);

/** Whether a match can only hit failed or refused logins. */
function onlyFailedLogins(match: z.infer<typeof matchSchema>): boolean {
  if (match.kinds && match.kinds.every((k) => FAILED_KINDS.has(k))) return true;
  return match.signals !== undefined && match.signals.every((s) => FAILED_SIGNALS.has(s));
}

const BUILTIN_IDS = new Set(BUILTIN_RULES.map((rule) => rule.id));

export const detectSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** run the rules inside `pgwarden collect` too (opt-in: a collect that only archives sends no alerts) */
  in_collect: z.boolean().default(false),
  /** where collect keeps the engine's state and the alert outbox (default: the first source's state_dir, else ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
  /** first-seen rules learn for this long (of the records' own time) before they alert */
  learning: duration.default('7d'),
  /** objects whose reads and writes by roles outside application_roles alert (hr.*, public.cards) */
  sensitive_objects: z.array(z.string().min(1)).default([]),
  /** the roles of applications, whose access to sensitive objects is expected */
  application_roles: z.array(z.string().min(1)).default([]),
  /** roles known to be privileged besides what the server says (replay knows only these and what the records show) */
  privileged_roles: z.array(z.string().min(1)).default(['postgres']),
  business_hours: businessHoursSchema.prefault({}),
  /** what counts as one client network in first-seen keys (client_network) */
  client_network: z.strictObject({
    ipv4_prefix: z.number().int().min(8).max(32).default(24),
    ipv6_prefix: z.number().int().min(16).max(128).default(64),
  }).prefault({}),
  /** bounds of the state kept per rule (docs/detect.md, "State and bounds") */
  limits: z.strictObject({
    groups_per_rule: z.number().int().min(10).max(10_000_000).default(10_000),
    keys_per_rule: z.number().int().min(10).max(10_000_000).default(100_000),
    incidents_per_rule: z.number().int().min(10).max(1_000_000).default(1000),
    events_per_incident: z.number().int().min(2).max(10_000).default(50),
  }).prefault({}),
  /** what no response may ever touch, besides superusers, guard.break_glass_roles and pgwarden's own roles */
  responses: z.strictObject({
    protected_roles: z.array(z.string().min(1)).default([]),
    /** never blocked: by default loopback, where poolers and local services connect from */
    protected_networks: z.array(z.string()).default(['127.0.0.0/8', '::1/128']),
    /** how often collect (detect.in_collect) lifts the locks whose time has come */
    lift_interval: positiveDuration.default('1m'),
    /** collect only describes what each rule's actions would do (rows with outcome dry_run), and changes nothing */
    dry_run: z.boolean().default(false),
  }).prefault({}),
  rules: builtinRulesSchema.prefault({}),
  custom_rules: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'custom rule names are snake_case'), customRuleSchema).default({})
    .superRefine((rules, ctx) => {
      for (const id of Object.keys(rules)) {
        if (BUILTIN_IDS.has(id)) ctx.addIssue({ code: 'custom', path: [id], message: 'this is the name of a built-in rule: configure it under detect.rules, or choose another name' });
      }
    }),
}).prefault({});

export type DetectConfig = z.infer<typeof detectSchema>;
export type MatchConfig = z.infer<typeof matchSchema>;
export type BusinessHoursConfig = z.infer<typeof businessHoursSchema>;
export type CustomRuleConfig = z.infer<typeof customRuleSchema>;
export type ActionConfig = z.infer<typeof terminateAction> | z.infer<typeof lockRoleAction> | z.infer<typeof blockClientAction>;

/** Names in detect: that point elsewhere in the config: the sinks of a rule must exist. */
export function detectReferenceProblems(detect: DetectConfig, sinkNames: string[]): { path: PropertyKey[]; message: string }[] {
  const problems: { path: PropertyKey[]; message: string }[] = [];
  const check = (path: PropertyKey[], sinks: string[] | undefined) => {
    for (const [index, sink] of (sinks ?? []).entries()) {
      if (!sinkNames.includes(sink)) problems.push({ path: [...path, 'sinks', index], message: `"${sink}" is not one of pipeline.sinks (${sinkNames.join(', ') || 'none defined'})` });
    }
  };
  for (const [id, rule] of Object.entries(detect.rules)) check(['rules', id], (rule as { sinks?: string[] } | undefined)?.sinks);
  for (const [id, rule] of Object.entries(detect.custom_rules)) check(['custom_rules', id], rule.sinks);
  for (const [index, network] of detect.responses.protected_networks.entries()) {
    if (!(ipaddr.isValid(network) || ipaddr.isValidCIDR(network))) problems.push({ path: ['responses', 'protected_networks', index], message: `"${network}" is not a network such as 10.0.0.0/8 or an address` });
  }
  return problems;
}
