// off_hours_ddl: schema changes outside business hours.
import { plural, who, type BuiltinRule } from './rule.ts';

export const offHoursDdl: BuiltinRule = {
  id: 'off_hours_ddl',
  title: 'DDL (the DDL audit or pgAudit DDL records) outside detect.business_hours',
  severity: 'medium',
  type: 'match',
  params: {},
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1565.001', 'T1485'],
  compliance: {
    pci_dss: ['6.5.1', '10.2.1.7', '10.2.1.2'],
    hipaa: ['164.312(b)', '164.308(a)(1)(ii)(D)'],
    gdpr: ['Art. 32'],
    nist_800_53: ['CM-3', 'CM-5', 'AU-6'],
  },
  build: () => ({ match: [{ signals: ['ddl'], when: 'off_hours' }], group_by: ['user', 'database'] }),
  summary: (i) => `${who(i.user)} changed the schema of ${who(i.database)} outside business hours (${plural(i.count, 'record')})`,
};
