export { MIGRATIONS, LATEST_SCHEMA_VERSION } from './migrations.ts';
export {
  RECORDER_ROLE, installSchema, uninstallSchema, dropRecorderRole, updateRecorderPassword, newRecorderPassword,
  installedVersion, applyGuardSettings, requireSuperuser, type InstallResult, type GuardSettingsInput, type UninstallResult,
} from './install.ts';
export { sensorsStatus, type StatusReport, type StatusItem, type CheckState } from './status.ts';
