export { normaliseRule, normaliseClient, validateLikePattern, validateName, parsePriority, type RuleInput, type NormalisedRule, type RuleAction } from './rule-input.ts';
export { addRule, listRules, removeRule, type StoredRule } from './rules.ts';
export { decide, type Decision, type DecisionQuery } from './decision.ts';
export { GuardWatcher, checkWatchPrivileges, parseAllowedPayload, type TickResult, type WatchedSession } from './watch.ts';
export { connectionAttempts, parseSince, type AttemptFilter, type AttemptRow } from './report.ts';
