// The registry: every check, with its default on/off state. A test fails when a file in
// this folder is not listed here, or a listed check has no doc page or test scenario.
import type { CheckDefinition } from '../types.ts';
import { alive } from './alive.ts';
import { archiveBacklog } from './archive-backlog.ts';
import { archiver } from './archiver.ts';
import { autovacuumFreshness } from './autovacuum-freshness.ts';
import { backupAge } from './backup-age.ts';
import { bloat } from './bloat.ts';
import { cacheHitRatio } from './cache-hit-ratio.ts';
import { checkpoints } from './checkpoints.ts';
import { connectionsByState } from './connections-by-state.ts';
import { connections } from './connections.ts';
import { databaseGrowth } from './database-growth.ts';
import { databaseSize } from './database-size.ts';
import { ddlChanges } from './ddl-changes.ts';
import { deadlocks } from './deadlocks.ts';
import { hbaAuthMethods } from './hba-auth-methods.ts';
import { idleInTransaction } from './idle-in-transaction.ts';
import { inactiveSlots } from './inactive-slots.ts';
import { largestRelations } from './largest-relations.ts';
import { lastAnalyze } from './last-analyze.ts';
import { lockWaits } from './lock-waits.ts';
import { loggingSettings } from './logging-settings.ts';
import { longQueries } from './long-queries.ts';
import { minorVersion } from './minor-version.ts';
import { monitorIntegrity } from './monitor-integrity.ts';
import { monitorLoginPrivileges } from './monitor-login-privileges.ts';
import { passwordEncryption } from './password-encryption.ts';
import { passwordExpiry } from './password-expiry.ts';
import { passwordHashes } from './password-hashes.ts';
import { pgaudit } from './pgaudit.ts';
import { pgbouncerMaxWait } from './pgbouncer-max-wait.ts';
import { pgbouncerPoolUsage } from './pgbouncer-pool-usage.ts';
import { pgbouncerWaiting } from './pgbouncer-waiting.ts';
import { pgwardenTriggers } from './pgwarden-triggers.ts';
import { preparedTransactions } from './prepared-transactions.ts';
import { privilegedRoles } from './privileged-roles.ts';
import { publicSchemaCreate } from './public-schema-create.ts';
import { refusedConnections } from './refused-connections.ts';
import { replicationLagBytes } from './replication-lag-bytes.ts';
import { replicationLagSeconds } from './replication-lag-seconds.ts';
import { retainedWal } from './retained-wal.ts';
import { rollbackRatio } from './rollback-ratio.ts';
import { secdefSearchPath } from './secdef-search-path.ts';
import { sequenceExhaustion } from './sequence-exhaustion.ts';
import { settingsDrift } from './settings-drift.ts';
import { ssl } from './ssl.ts';
import { superusers } from './superusers.ts';
import { tempFiles } from './temp-files.ts';
import { transactionRate } from './transaction-rate.ts';
import { txnTime } from './txn-time.ts';
import { unencryptedConnections } from './unencrypted-connections.ts';
import { uptime } from './uptime.ts';
import { walFiles } from './wal-files.ts';
import { writable } from './writable.ts';
import { xidWraparound } from './xid-wraparound.ts';

export const CHECKS: readonly CheckDefinition[] = [
  alive,
  archiveBacklog,
  archiver,
  autovacuumFreshness,
  backupAge,
  bloat,
  cacheHitRatio,
  checkpoints,
  connections,
  connectionsByState,
  databaseGrowth,
  databaseSize,
  ddlChanges,
  deadlocks,
  hbaAuthMethods,
  idleInTransaction,
  inactiveSlots,
  largestRelations,
  lastAnalyze,
  lockWaits,
  loggingSettings,
  longQueries,
  minorVersion,
  monitorIntegrity,
  monitorLoginPrivileges,
  passwordEncryption,
  passwordExpiry,
  passwordHashes,
  pgaudit,
  pgbouncerMaxWait,
  pgbouncerPoolUsage,
  pgbouncerWaiting,
  pgwardenTriggers,
  preparedTransactions,
  privilegedRoles,
  publicSchemaCreate,
  refusedConnections,
  replicationLagBytes,
  replicationLagSeconds,
  retainedWal,
  rollbackRatio,
  secdefSearchPath,
  sequenceExhaustion,
  settingsDrift,
  ssl,
  superusers,
  tempFiles,
  transactionRate,
  txnTime,
  unencryptedConnections,
  uptime,
  walFiles,
  writable,
  xidWraparound,
];

export const CHECK_NAMES: readonly string[] = CHECKS.map((c) => c.name);

export function findCheck(name: string): CheckDefinition | undefined {
  return CHECKS.find((c) => c.name === name);
}
