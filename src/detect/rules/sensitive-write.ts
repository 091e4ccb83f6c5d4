// sensitive_write: a sensitive object changed by a role that is not an application's.
import type { RuleBody, DetectSettings } from './rule.ts';
import { plural, who, type BuiltinRule } from './rule.ts';

/** Both sensitive rules: pgAudit records of the class on a sensitive object, application roles excepted. */
export function sensitiveBody(klass: 'READ' | 'WRITE', detect: DetectSettings): RuleBody {
  return {
    match: [{ classes: [klass], objects: detect.sensitive_objects.length > 0 ? detect.sensitive_objects : ['(none)'] }],
    ignore: detect.application_roles.length > 0 ? [{ users: detect.application_roles }] : [],
    group_by: ['user', 'database'],
    inactive: detect.sensitive_objects.length === 0 ? 'detect.sensitive_objects is empty' : null,
  };
}

export const sensitiveWrite: BuiltinRule = {
  id: 'sensitive_write',
  title: 'an object of detect.sensitive_objects changed (INSERT, UPDATE, DELETE, TRUNCATE, COPY FROM) by a role not in detect.application_roles',
  severity: 'high',
  type: 'match',
  params: {},
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1565.001'],
  compliance: {
    pci_dss: ['10.2.1.1', '7.2.1'],
    hipaa: ['164.312(c)(1)', '164.312(b)'],
    gdpr: ['Art. 5(1)(f)', 'Art. 32'],
    nist_800_53: ['AU-12', 'AC-6', 'SI-7'],
  },
  build: (_p, detect) => sensitiveBody('WRITE', detect),
  summary: (i) => `${who(i.user)} changed sensitive objects in ${who(i.database)} (${plural(i.count, 'statement')})`,
};
