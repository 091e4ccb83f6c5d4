// Repository sink: each batch goes through the repository writer in one transaction, and the
// repository deduplicates on the source position, so a batch delivered again (after a crash
// between delivery and settle) inserts nothing twice: exactly once in the repository.
import { readSecret } from '../../../core/config-file.ts';
import { redactUrl, type Target } from '../../../core/db.ts';
import { PgwardenError } from '../../../core/errors.ts';
import { RepositoryWriter } from '../../../repository/index.ts';
import type { Config } from '../../../core/config.ts';
import type { SinkContext } from '../../build.ts';
import type { DeliveryReport, Pending, PendingAlert, Sink } from '../../types.ts';
import type { RepositorySinkConfig } from './config.ts';

/** The sink's database: its url, a server under servers:, or the top-level repository:. */
export function repositorySinkTarget(name: string, config: RepositorySinkConfig, root?: Config): Target {
  const where = `pipeline.sinks.${name}`;
  if (config.server && root?.servers[config.server]) {
    const server = root.servers[config.server]!;
    return {
      url: server.url,
      password: readSecret(where, config.password_env, config.password_file) ?? readSecret(`servers.${config.server}`, server.password_env, server.password_file),
      label: `repository ${config.server}`,
    };
  }
  const url = config.url ?? root?.repository?.url;
  const password = readSecret(where, config.password_env, config.password_file)
    ?? (config.url ? undefined : readSecret('repository', root?.repository?.password_env, root?.repository?.password_file));
  return { url, password, label: `repository ${url ? redactUrl(url) : '(PG* environment)'}` };
}

export function build({ name, config, root, log }: SinkContext<RepositorySinkConfig>): Sink {
  const target = repositorySinkTarget(name, config, root);
  const writer = new RepositoryWriter(target, { applicationName: `pgwarden/collect` });
  // Incidents (detect.in_collect) on a connection of their own, never inside a batch's transaction.
  let alertWriter: RepositoryWriter | null = null;
  return {
    name,
    type: 'repository',
    inputs: config.inputs,
    async deliver(pending: Pending): Promise<DeliveryReport> {
      // A batch refused for its data is set aside (pgwarden_repo.rejected_batches) and the rest
      // stored: the source goes on. Said at error level, with where to look.
      const result = await writer.writeOrSetAside(pending.events, pending.messageId);
      for (const r of result.rejections) {
        log.error({ sink: name, message_id: pending.messageId, rejected_batch: r.id, sqlstate: r.sqlstate, events: r.events, positions: r.positions, err: r.error },
          `the repository refused ${r.events} event${r.events === 1 ? '' : 's'} for their data; set aside as pgwarden_repo.rejected_batches id ${r.id} (docs/repository.md)`);
      }
      return result.rejections.length === 0 ? {} : { setAside: { events: result.rejected, ids: result.rejections.map((r) => r.id) } };
    },
    // detect.in_collect: each notice of an incident stores (or updates) it in pgwarden_repo.incidents
    async deliverAlert(pending: PendingAlert): Promise<void> {
      alertWriter ??= new RepositoryWriter(target, { applicationName: `pgwarden/collect`, migrate: false });
      await alertWriter.storeIncident(pending.notice.alert);
    },
    async start(): Promise<void> {
      try {
        await writer.open();
      } catch (error) {
        // Unreachable now is fine (deliveries wait and retry); a refused login or privilege is not.
        if (error instanceof PgwardenError && error.code !== 'PGW_ERR_CONNECT') throw error;
      }
    },
    close: async () => {
      await Promise.all([writer.close(), alertWriter?.close()]);
    },
  };
}
