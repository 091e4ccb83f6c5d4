export { MIGRATIONS, LATEST_SCHEMA_VERSION } from './migrations.ts';
export { EXPECTED_GRANTS } from './manifest.ts';
export {
  RECORDER_ROLE, RECORDER_APPLICATION, WATCHER_ROLE, installSchema, uninstallSchema, dropClusterRoles, dropUnusedRoles, type DroppedRole, updateRecorderPassword, newRecorderPassword,
  applyGuardSettings, installedVersion, type InstallResult, type GuardSettingsInput, type UninstallResult,
} from './install.ts';
export { sensorsStatus, isDrift, type StatusReport, type StatusItem, type CheckState } from './status.ts';
export { installResponder, type ResponderResult } from './responder.ts';
