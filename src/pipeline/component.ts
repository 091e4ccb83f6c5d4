// What a pipeline component (a source or a sink type) declares, in one place: its `type:`, its
// config schema (zod), where it is documented and tested, the checks that need the rest of the
// config (names under servers:), and how it is built. Validation is apart from building (as in
// vector's sources/<name>/): the schema is read by every command that loads pgwarden.yaml, so a
// definition imports zod and nothing heavy; `create` loads the implementation (the AWS SDK, the
// NATS client, nodemailer) only when a configured component is built.
//
// The registry (registry.ts) lists the definitions once; core/config.ts composes their schemas;
// test/pipeline/registry.test.ts fails when one lacks its doc section or its test.
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ServerConfig } from '../core/config.ts';
import type { Target } from '../core/db.ts';
import type { Sink, Source } from './types.ts';

/**
 * What a component may read of the top level: names under servers:, the default server, the
 * top-level repository:. (Not the whole Config, whose type is made of these very schemas.)
 */
export interface RootConfig {
  servers: Record<string, ServerConfig>;
  default_server?: string;
  repository?: ServerConfig;
}

/** A mistake only the whole config shows (a server name that is not under servers:). `path` is below the entry. */
export interface ConfigProblem {
  path: PropertyKey[];
  message: string;
}

/** What a source's `create` gets: its configured name, its validated entry, the whole config, a logger. */
export interface SourceContext<C> {
  name: string;
  config: C;
  root: RootConfig;
  log: Logger;
  /** the database to read instead of the entry's server (`alerts run --db`) */
  target?: Target;
}

/** What a sink's `create` gets. `root` names servers: and the top-level repository: (absent in some tests). */
export interface SinkContext<C> {
  name: string;
  config: C;
  root?: RootConfig;
  log: Logger;
}

interface Definition<S extends z.ZodObject> {
  /** the `type:` value, also the literal in `schema.shape.type` */
  type: string;
  /** a strict object whose first key is `type: z.literal(type)` */
  schema: S;
  /** the doc section users read: `page.md#anchor` under docs/ */
  doc: string;
  /** test files (from the repository root) that configure or build this type */
  tests: string[];
  /** checks that need the whole config (run after the schema, in config order) */
  check?(config: z.infer<S>, root: RootConfig): ConfigProblem[];
}

export interface SourceDefinition<S extends z.ZodObject = z.ZodObject> extends Definition<S> {
  /** One configured source may run as several (the DDL log of each database it follows). */
  create(context: SourceContext<z.infer<S>>): Promise<Source[]>;
}

export interface SinkDefinition<S extends z.ZodObject = z.ZodObject> extends Definition<S> {
  create(context: SinkContext<z.infer<S>>): Promise<Sink>;
}

/** Identity functions: they only check a definition's shape and keep its schema's type. */
export function defineSource<S extends z.ZodObject>(definition: SourceDefinition<S>): SourceDefinition<S> {
  return definition;
}

export function defineSink<S extends z.ZodObject>(definition: SinkDefinition<S>): SinkDefinition<S> {
  return definition;
}
