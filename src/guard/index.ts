export { normaliseRule, normaliseClient, validateLikePattern, validateName, parsePriority, type RuleInput, type NormalisedRule, type RuleAction } from './rule-input.ts';
export { addRule, listRules, removeRule, ruleWarnings, type StoredRule } from './rules.ts';
export { decide, type Decision, type DecisionQuery } from './decision.ts';
export { GuardWatcher, checkWatchPrivileges, type TickResult, type WatchedSession, type WatcherOptions } from './watch.ts';
export { connectionAttempts, parseSince, type AttemptFilter, type AttemptRow } from './report.ts';
