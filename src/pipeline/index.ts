export { runGraph, type Graph, type Running } from './graph.ts';
export { backoff } from './retry.ts';
export { createSink, createSources } from './build.ts';
export { SINK_TYPES, SINKS, SOURCE_TYPES, SOURCES } from './registry.ts';
export { CollectStatus, collectProblem, readStatus, statusFile, type CollectStatusFile, type LaneStatus } from './status.ts';
export { subject, body } from './message.ts';
export type { Source, Sink, Lane, Pending } from './types.ts';
export { ParsePool, parseInPieces, defaultJobs, type ParsedPiece, type Decided } from './parallel-parse.ts';
