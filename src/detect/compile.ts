// detect: in the config, compiled into the RuleSpecs the engine runs: the built-in rules with
// their settings, and the custom rules, in one shape.
import type { DetectConfig, MatchConfig } from './config.ts';
import { DetectEngine, type EngineOptions } from './engine.ts';
import { ReplayFacts } from './facts.ts';
import { BUILTIN_RULES } from './rules/index.ts';
import { durationMs } from './schema.ts';
import type { ActionSpec, BusinessHours, Compliance, DetectFacts, Field, MatchSpec, RuleSpec, Severity } from './types.ts';

const DEFAULT_THROTTLE = '10m';
const DEFAULT_CLOSE_AFTER = '1h';

/** What detection needs of the whole config. */
export interface DetectInput {
  detect: DetectConfig;
  guard?: { break_glass_roles: string[] };
}

export function matchSpec(match: MatchConfig): MatchSpec {
  const { idle_for, ...rest } = match;
  return idle_for === undefined ? rest : { ...rest, idle_for_ms: durationMs(idle_for) };
}

function actionSpecs(actions: readonly Record<string, unknown>[] | undefined): ActionSpec[] {
  return (actions ?? []).map((a) => {
    switch (a.type) {
      case 'lock_role': return { type: 'lock_role', duration_ms: durationMs(a.duration as string) };
      case 'block_client': return { type: 'block_client', duration_ms: durationMs(a.duration as string), ipv4_prefix: a.ipv4_prefix as number, ipv6_prefix: a.ipv6_prefix as number };
      default: return { type: 'terminate' };
    }
  });
}

function tagsOf(mitre: readonly string[], compliance: Compliance, extra: readonly string[]): string[] {
  return [
    ...mitre.map((t) => `attack:${t}`),
    ...compliance.pci_dss.map((c) => `pci_dss:${c}`),
    ...compliance.hipaa.map((c) => `hipaa:${c}`),
    ...compliance.gdpr.map((c) => `gdpr:${c}`),
    ...compliance.nist_800_53.map((c) => `nist_800_53:${c}`),
    ...extra,
  ];
}

const NO_COMPLIANCE: Compliance = { pci_dss: [], hipaa: [], gdpr: [], nist_800_53: [] };

/** The rules in force: built-in ones in registry order, then custom ones by name. */
export function compileRules(detect: DetectConfig): RuleSpec[] {
  const hours = (own: BusinessHours | undefined): BusinessHours => own ?? detect.business_hours;
  const rules: RuleSpec[] = [];
  for (const builtin of BUILTIN_RULES) {
    const config = (detect.rules as Record<string, Record<string, unknown>>)[builtin.id] ?? {};
    const params = Object.fromEntries(Object.keys(builtin.params).map((k) => [k, config[k]]));
    const body = builtin.build(params, detect);
    const common = config as { enabled?: boolean; severity?: Severity; ignore?: MatchConfig[]; throttle?: string; close_after?: string; sinks?: string[];
      business_hours?: BusinessHours; tags?: string[]; actions?: Record<string, unknown>[] };
    const spec: RuleSpec = {
      id: builtin.id,
      builtin: true,
      description: builtin.title,
      severity: common.severity ?? builtin.severity,
      enabled: detect.enabled && (common.enabled ?? true),
      type: builtin.type,
      match: body.match,
      ignore: [...(body.ignore ?? []), ...(common.ignore ?? []).map(matchSpec)],
      group_by: body.group_by,
      threshold: body.threshold ?? 1,
      window_ms: body.window_ms ?? 0,
      distinct: body.distinct ?? null,
      key: body.key ?? [],
      alert_if: body.alert_if ?? [],
      steps: [],
      within_ms: 0,
      throttle_ms: durationMs(common.throttle ?? DEFAULT_THROTTLE),
      close_after_ms: Math.max(durationMs(common.close_after ?? DEFAULT_CLOSE_AFTER), body.window_ms ?? 0),
      business_hours: hours(common.business_hours),
      actions: actionSpecs(common.actions),
      sinks: common.sinks ?? null,
      mitre: builtin.mitre,
      compliance: builtin.compliance,
      tags: tagsOf(builtin.mitre, builtin.compliance, common.tags ?? []),
      inactive: body.inactive ?? null,
      settings: params,
      summary: (incident) => builtin.summary(incident, params),
    };
    rules.push(spec);
  }
  for (const [id, custom] of Object.entries(detect.custom_rules).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const match = custom.type === 'sequence' ? [] : [matchSpec(custom.match)];
    const groupBy: readonly Field[] = custom.group_by ?? (custom.type === 'first_seen' ? custom.key : []);
    const windowMs = custom.type === 'threshold' ? durationMs(custom.window) : custom.type === 'sequence' ? durationMs(custom.within) : 0;
    const { description } = custom;
    rules.push({
      id,
      builtin: false,
      description,
      severity: custom.severity ?? 'medium',
      enabled: detect.enabled && (custom.enabled ?? true),
      type: custom.type,
      match,
      ignore: (custom.ignore ?? []).map(matchSpec),
      group_by: groupBy,
      threshold: custom.type === 'threshold' ? custom.threshold : 1,
      window_ms: custom.type === 'threshold' ? windowMs : 0,
      distinct: custom.type === 'threshold' ? custom.distinct ?? null : null,
      key: custom.type === 'first_seen' ? custom.key : [],
      alert_if: custom.type === 'first_seen' && custom.alert_if ? [matchSpec(custom.alert_if)] : [],
      steps: custom.type === 'sequence' ? custom.steps.map((s) => ({ match: matchSpec(s.match), count: s.count })) : [],
      within_ms: custom.type === 'sequence' ? windowMs : 0,
      throttle_ms: durationMs(custom.throttle ?? DEFAULT_THROTTLE),
      close_after_ms: Math.max(durationMs(custom.close_after ?? DEFAULT_CLOSE_AFTER), windowMs),
      business_hours: hours(custom.business_hours),
      actions: actionSpecs(custom.actions as Record<string, unknown>[] | undefined),
      sinks: custom.sinks ?? null,
      mitre: [],
      compliance: NO_COMPLIANCE,
      tags: tagsOf([], NO_COMPLIANCE, custom.tags ?? []),
      inactive: null,
      settings: Object.fromEntries(Object.entries(custom).filter(([k]) => !['description', 'severity', 'enabled', 'actions', 'sinks', 'tags'].includes(k))),
      summary: (incident) => `${description} (${incident.count} ${incident.count === 1 ? 'event' : 'events'}${incident.user ? `, ${incident.user}` : ''}${incident.client_addr ? ` from ${incident.client_addr}` : ''})`,
    });
  }
  return rules;
}

export function engineOptions(detect: DetectConfig, facts: DetectFacts): EngineOptions {
  return {
    facts,
    limits: detect.limits,
    learningMs: durationMs(detect.learning),
    applicationRoles: detect.application_roles,
    network: detect.client_network,
  };
}

/** An engine for the config; without facts, it learns them from the records it sees (ReplayFacts). */
export function createEngine(detect: DetectConfig, facts: DetectFacts = new ReplayFacts(detect.privileged_roles)): DetectEngine {
  return new DetectEngine(compileRules(detect), engineOptions(detect, facts));
}
