// Secure monitoring: checks as SECURITY DEFINER functions an unprivileged login may call.
export { CHECKS, CHECK_NAMES, REGISTRY, findCheck } from './checks/index.ts';
export { CALLER_ROLE, MONITOR_SCHEMA, OWNER_ROLE, dropMonitorRoles, functionName, functionSql, installMonitor, pickVariant, planMonitorInstall, recordSettingsBaseline, uninstallMonitor, type MonitorInstallOptions } from './install.ts';
export { checkServer, checkServers, evaluate, rowLevel, selectChecks, type CheckSettings, type RunOptions, type ServerTarget } from './runner.ts';
export { CHECK_FORMATS, ERROR_EXIT_CODE, exitCode, isCheckFormat, renderError, renderResults, type CheckFormat } from './formats/index.ts';
export { customBody, customChecks } from './custom.ts';
export * from './types.ts';
