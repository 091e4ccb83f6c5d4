// The repository sink's type and config (docs/repository.md#the-repository-sink): a URL or a
// server name, the password from the environment or a file. The implementation is repository.ts.
import { z } from 'zod';
import { defineSink, type ConfigProblem, type SinkDefinition } from '../../component.ts';
import { secretSource, sinkCommon, unknownServer } from '../../config-parts.ts';

export const repositorySinkSchema = secretSource.extend({
  type: z.literal('repository'),
  ...sinkCommon,
  /** postgres:// URL of the repository database (no password in it) */
  url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  /** a name under servers: (instead of url); default: the top-level repository: */
  server: z.string().min(1).optional(),
});

export type RepositorySinkConfig = z.infer<typeof repositorySinkSchema>;

export const repositorySink: SinkDefinition<typeof repositorySinkSchema> = defineSink({
  type: 'repository',
  schema: repositorySinkSchema,
  doc: 'repository.md#the-repository-sink',
  tests: ['test/pipeline/collect-repository.test.ts'],
  check: (config, root): ConfigProblem[] => {
    if (config.password_env && config.password_file) return [{ path: ['password_file'], message: 'give password_env or password_file, not both' }];
    if (config.url && config.server) return [{ path: ['server'], message: 'give url or server, not both' }];
    if (config.server && !root.servers[config.server]) return [{ path: ['server'], message: unknownServer(config.server, root.servers) }];
    if (!config.url && !config.server && !root.repository?.url) return [{ path: [], message: 'a repository sink needs url, server, or a top-level repository: url' }];
    return [];
  },
});

