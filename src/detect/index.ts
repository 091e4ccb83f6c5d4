// Detection: rules over every event (match, thresholds over sliding windows, distinct counts,
// first-seen sets, sequences, business-hours calendars), in the records' own time, into
// incidents; responses described. Pure and deterministic; state that snapshots and restores.
//
//   const engine = createEngine(config.detect);            // facts learned from the records
//   engine.process(event); … for (const notice of engine.drain()) …
//   const saved = engine.snapshot(); … engine.restore(saved);
//
// src/core/config.ts takes the detect: schema from ./config.ts directly, so that loading the
// config does not load the engine.
export { alertOf, type Alert } from './alert.ts';
export { compileRules, createEngine, engineOptions, matchSpec } from './compile.ts';
export { detectSchema, type DetectConfig } from './config.ts';
export { DetectEngine, type EngineLimits, type EngineOptions, type EngineSnapshot, type EngineStats, type RuleStats } from './engine.ts';
export { eventFromLine, looksLikeEventLines } from './event-lines.ts';
export { ReplayFacts } from './facts.ts';
export { replay, inputEvents, mergeByTime, type ReplayFormat, type ReplayOptions, type ReplayStats } from './replay.ts';
export { Responder, type ActiveResponse, type ResponderOptions, type ResponseRecord } from './responder.ts';
export { ResponsePlanner, type DescribedResponse, type ResponseContext } from './responses.ts';
export { BUILTIN_RULES, type BuiltinRule } from './rules/index.ts';
export { PGWARDEN_ROLES, isServerWritten } from './signals.ts';
export type { DetectFacts, EventRef, IncidentView, Notice, NoticeKind, RoleFacts, RuleSpec, Severity } from './types.ts';
