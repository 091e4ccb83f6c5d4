// What a pipeline component (a source or a sink type) declares, in one place: its `type:`, its
// config schema (zod), where it is documented and tested, and the checks that need the rest of the
// config (names under servers:). Validation is apart from building (as in vector's
// sources/<name>/): core/config.ts composes these definitions for every command that reads
// pgwarden.yaml, so a definition imports only zod, this file, config-parts.ts, node: built-ins and
// leaf modules (core/event.ts, logs/formats.ts) — never core/config.ts or an implementation, which
// would make an import cycle; build.ts loads a type's implementation (an SDK, a client library)
// only when a config has one.
//
// The registry (registry.ts) lists the definitions once; test/pipeline/registry.test.ts fails when
// one lacks its doc section, its test or its implementation.
import type { z } from 'zod';

/**
 * What a check may read of the top level: the names under servers: and the top-level repository:.
 * (Structural, not core/config.ts's Config: that type is made of these very schemas.)
 */
export interface CheckRoot {
  servers: Record<string, unknown>;
  repository?: { url?: string };
}

/** A mistake only the whole config shows (a server name that is not under servers:). `path` is below the entry. */
export interface ConfigProblem {
  path: PropertyKey[];
  message: string;
}

interface Definition<S extends z.ZodObject> {
  /** the `type:` value, also the literal in `schema.shape.type`; the folder's name and (with - for _) its implementation's */
  type: string;
  /** a strict object with `type: z.literal(type)` */
  schema: S;
  /** the doc section users read: `page.md#anchor` under docs/ */
  doc: string;
  /** test files (from the repository root) that configure or build this type */
  tests: string[];
  /** checks that need the whole config (run after the schema, in config order) */
  check?(config: z.infer<S>, root: CheckRoot): ConfigProblem[];
}

export type SourceDefinition<S extends z.ZodObject = z.ZodObject> = Definition<S>;
export type SinkDefinition<S extends z.ZodObject = z.ZodObject> = Definition<S>;

/** Identity functions: they only check a definition's shape and keep its schema's type. */
export function defineSource<S extends z.ZodObject>(definition: SourceDefinition<S>): SourceDefinition<S> {
  return definition;
}

export function defineSink<S extends z.ZodObject>(definition: SinkDefinition<S>): SinkDefinition<S> {
  return definition;
}
