// sensitive_read: a sensitive object read by a role that is not an application's.
import { plural, who, type BuiltinRule } from './rule.ts';
import { sensitiveBody } from './sensitive-write.ts';

export const sensitiveRead: BuiltinRule = {
  id: 'sensitive_read',
  title: 'an object of detect.sensitive_objects read (SELECT, COPY TO) by a role not in detect.application_roles',
  severity: 'high',
  type: 'match',
  params: {},
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1213'],
  compliance: {
    pci_dss: ['10.2.1.1', '7.2.1'],
    hipaa: ['164.312(b)', '164.308(a)(1)(ii)(D)', '164.312(a)(1)'],
    gdpr: ['Art. 5(1)(f)', 'Art. 32', 'Art. 33'],
    nist_800_53: ['AU-12', 'AC-6', 'SI-4'],
  },
  build: (_p, detect) => sensitiveBody('READ', detect),
  summary: (i) => `${who(i.user)} read sensitive objects in ${who(i.database)} (${plural(i.count, 'statement')})`,
};
