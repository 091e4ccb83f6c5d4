// What a built-in rule is: its id and documentation facts, the settings it takes under
// detect.rules.<id> (with their defaults), the actions it allows, and how it compiles into the
// engine's RuleSpec from those settings and the rest of detect:. One file per rule, registered
// in index.ts; docs/detect/<id>.md describes it and test/detect proves it.
import type { z } from 'zod';
import type { ActionType, Compliance, Field, IncidentView, MatchSpec, RuleType, Severity } from '../types.ts';

/** The parts of detect: a rule's definition reads. */
export interface DetectSettings {
  sensitive_objects: string[];
  application_roles: string[];
}

/** What a rule's build() gives: its behaviour. */
export interface RuleBody {
  match: MatchSpec[];
  ignore?: MatchSpec[];
  group_by: Field[];
  threshold?: number;
  window_ms?: number;
  distinct?: Field | null;
  key?: Field[];
  /** first_seen: a new key alerts only when its event matches this too (keys are learned from every match) */
  alert_if?: MatchSpec[];
  /** why the rule cannot fire as configured */
  inactive?: string | null;
}

export interface BuiltinRule {
  id: string;
  /** one line: what it catches */
  title: string;
  severity: Severity;
  type: RuleType;
  /** the rule's own settings in detect.rules.<id>, each with its default */
  params: z.ZodRawShape;
  actions: readonly ActionType[];
  /** why the other actions are not allowed on this rule */
  actionsNote?: string;
  mitre: readonly string[];
  compliance: Compliance;
  build(params: Record<string, unknown>, detect: DetectSettings): RuleBody;
  summary(incident: IncidentView, params: Record<string, unknown>): string;
}

export const FAILED_LOGIN_ACTIONS_NOTE = 'the role named in a failed or refused login is chosen by the client: there is no session to terminate, '
  + 'and locking that role would let anyone lock any role out; block the client instead';

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "alice", or "(unknown)" for null. */
export function who(value: string | null | undefined): string {
  return value === null || value === undefined || value === '' ? '(unknown)' : value;
}
