// Secure monitoring: checks as SECURITY DEFINER functions an unprivileged login may call.
export { CHECKS, CHECK_NAMES, findCheck } from './checks/index.ts';
export { MONITOR_SCHEMA, functionName, functionSql, pickVariant } from './sql.ts';
export type { MonitorInstallOptions, MonitorInstallPlan, MonitorInstallResult, MonitorUninstallResult } from './install.ts';
import type * as Install from './install.ts';

// Install, uninstall and the baseline load on first use: `pgwarden check` (run every minute by
// a monitoring system) never pays for the install code and the sensor modules it pulls in.
const install = () => import('./install.ts');
export const installMonitor: typeof Install.installMonitor = async (...args) => (await install()).installMonitor(...args);
export const planMonitorInstall: typeof Install.planMonitorInstall = async (...args) => (await install()).planMonitorInstall(...args);
export const uninstallMonitor: typeof Install.uninstallMonitor = async (...args) => (await install()).uninstallMonitor(...args);
export const recordSettingsBaseline: typeof Install.recordSettingsBaseline = async (...args) => (await install()).recordSettingsBaseline(...args);
export const dropMonitorRoles: typeof Install.dropMonitorRoles = async (...args) => (await install()).dropMonitorRoles(...args);
export { checkServer, checkServers, evaluate, rowLevel, selectChecks, type CheckSettings, type RunOptions, type ServerTarget } from './runner.ts';
export { CHECK_FORMATS, ERROR_EXIT_CODE, exitCode, isCheckFormat, renderError, renderResults, type CheckFormat } from './formats/index.ts';
export { customBody, customChecks } from './custom.ts';
export * from './types.ts';
