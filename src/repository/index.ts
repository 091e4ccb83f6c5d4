// The central repository: migrations, the COPY writer, retention, report queries.
export { REPO_SCHEMA, WEB_SCHEMA, REPO_LATEST_VERSION, REPO_MIGRATIONS } from './migrations.ts';
export { migrateRepository, repositoryVersion, requireRepository, pgauditLoaded, type MigrateResult } from './migrate.ts';
export { RepositoryWriter, type WriteResult, type WriterOptions } from './writer.ts';
export { encodeBatch, EVENT_COLUMNS, type EncodedBatch } from './encode.ts';
export { prune, parseDuration, type PruneResult } from './retention.ts';
export { auditReport, ownHiddenCount, sessionsReport, failedLoginsReport, topReport, type ReportFilter } from './reports.ts';
export { repositoryTarget, repositoryError } from './target.ts';
export { storeIncident, type IncidentDb, type StoredIncident } from './incidents.ts';
