export { runGraph, backoff, type Graph, type Running } from './graph.ts';
export { createSources, SOURCE_TYPES } from './sources/index.ts';
export { createSink, SINK_TYPES } from './sinks/index.ts';
export { compileMatch } from './match.ts';
export { CollectStatus, collectProblem, readStatus, statusFile, type CollectStatusFile, type LaneStatus } from './status.ts';
export { subject, body } from './message.ts';
export type { Source, Sink, Lane, Pending } from './types.ts';
export { ParsePool, parseInPieces, defaultJobs, type ParsedPiece, type Decided } from './parallel-parse.ts';
