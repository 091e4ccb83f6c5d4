// The built-in rules, one file each, in the order of `pgwarden detect rules` and docs/detect/.
import { auditTampering } from './audit-tampering.ts';
import { bruteForce } from './brute-force.ts';
import { dormantRoleLogin } from './dormant-role-login.ts';
import { guardRefusalBurst } from './guard-refusal-burst.ts';
import { massChange } from './mass-change.ts';
import { newClientForPrivilegedRole } from './new-client-for-privileged-role.ts';
import { offHoursDdl } from './off-hours-ddl.ts';
import { offHoursPrivilegedLogin } from './off-hours-privileged-login.ts';
import { passwordSpray } from './password-spray.ts';
import { privilegeEscalation } from './privilege-escalation.ts';
import type { BuiltinRule } from './rule.ts';
import { sensitiveRead } from './sensitive-read.ts';
import { sensitiveWrite } from './sensitive-write.ts';
import { serverProgramExecution } from './server-program-execution.ts';
import { unknownRoleProbe } from './unknown-role-probe.ts';

export type { BuiltinRule, DetectSettings, RuleBody } from './rule.ts';

export const BUILTIN_RULES: readonly BuiltinRule[] = [
  bruteForce,
  passwordSpray,
  unknownRoleProbe,
  sensitiveRead,
  sensitiveWrite,
  massChange,
  offHoursDdl,
  offHoursPrivilegedLogin,
  newClientForPrivilegedRole,
  auditTampering,
  privilegeEscalation,
  serverProgramExecution,
  guardRefusalBurst,
  dormantRoleLogin,
];
