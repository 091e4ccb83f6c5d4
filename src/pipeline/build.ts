// Building what the config names: the running sources and sinks of each configured entry. Every
// type's implementation is src/pipeline/{sources,sinks}/<type>/<type>.ts (- for _ in the file
// name) and exports one factory, `build(context)`; it is found by that name, loaded when a config
// has the type (the AWS SDK, the NATS client and nodemailer would slow every command's start),
// and test/pipeline/registry.test.ts checks that every registered type has it. Found by name and
// not by a second list, so that a new type is its folder and its line in registry.ts.
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import type { Target } from '../core/db.ts';
import { sinkDefinition, sourceDefinition, type SinkConfig, type SourceConfig } from './registry.ts';
import type { Sink, Source } from './types.ts';

/** What a source's `build` gets: its configured name, its validated entry, the whole config, a logger. */
export interface SourceContext<C> {
  name: string;
  config: C;
  root: Config;
  log: Logger;
  /** the database to read instead of the entry's server (`alerts run --db`) */
  target?: Target;
}

/** What a sink's `build` gets. `root` names servers: and the top-level repository: (absent in some tests). */
export interface SinkContext<C> {
  name: string;
  config: C;
  root?: Config;
  log: Logger;
}

/** The module of a registered type's implementation, by the naming rule above. */
export function implementationOf(kind: 'sources' | 'sinks', type: string): URL {
  // .ts under tsx, .js in dist/: the file name follows this module's own
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${kind}/${type}/${type.replaceAll('_', '-')}${extension}`, import.meta.url);
}

/** The running sources of one configured source (a DDL source: one per database). `target` overrides its server. */
export async function createSources(name: string, config: SourceConfig, root: Config, log: Logger, target?: Target): Promise<Source[]> {
  const { type } = sourceDefinition(config.type);
  const module = await import(implementationOf('sources', type).href) as { build(context: SourceContext<SourceConfig>): Promise<Source[]> };
  return module.build({ name, config, root, log, target });
}

/** `root`: the whole config, for sinks that refer to servers: or the top-level repository:. */
export async function createSink(name: string, config: SinkConfig, root?: Config, log?: Logger): Promise<Sink> {
  const { type } = sinkDefinition(config.type);
  const module = await import(implementationOf('sinks', type).href) as { build(context: SinkContext<SinkConfig>): Sink };
  return module.build({ name, config, root, log: log ?? (await import('../core/logger.ts')).createLogger('pipeline') });
}
