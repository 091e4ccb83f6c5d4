// off_hours_privileged_login: a superuser, CREATEROLE or BYPASSRLS role logging in outside business hours.
import { plural, who, type BuiltinRule } from './rule.ts';

export const offHoursPrivilegedLogin: BuiltinRule = {
  id: 'off_hours_privileged_login',
  title: 'a login of a privileged role (superuser, CREATEROLE, BYPASSRLS) outside detect.business_hours',
  severity: 'medium',
  type: 'match',
  params: {},
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1078'],
  compliance: {
    pci_dss: ['10.2.1.2', '10.4.1.1'],
    hipaa: ['164.308(a)(5)(ii)(C)', '164.308(a)(1)(ii)(D)'],
    gdpr: ['Art. 32'],
    nist_800_53: ['AC-2(12)', 'AC-6(9)', 'AU-6'],
  },
  build: () => ({ match: [{ signals: ['login'], roles: ['privileged'], when: 'off_hours' }], group_by: ['user'] }),
  summary: (i) => `privileged role ${who(i.user)} logged in outside business hours (${plural(i.count, 'login')}, first from ${who(i.client_addr)})`,
};
