// dormant_role_login: a role logging in after a long time without any login.
import { durationMs, positiveDuration } from '../schema.ts';
import { who, type BuiltinRule } from './rule.ts';

export const dormantRoleLogin: BuiltinRule = {
  id: 'dormant_role_login',
  title: 'a login of a role whose previous login was idle or longer ago (from the records and the repository\'s login history)',
  severity: 'medium',
  type: 'match',
  params: {
    idle: positiveDuration.default('90d'),
  },
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1078'],
  compliance: {
    pci_dss: ['8.2.6', '10.2.1.2'],
    hipaa: ['164.308(a)(3)(ii)(C)', '164.308(a)(5)(ii)(C)'],
    gdpr: ['Art. 32'],
    nist_800_53: ['AC-2(3)', 'AC-2(12)'],
  },
  build: (p) => ({ match: [{ signals: ['login'], idle_for_ms: durationMs(p.idle as string) }], group_by: ['user'] }),
  summary: (i, p) => `${who(i.user)} logged in from ${who(i.client_addr)} after more than ${String(p.idle)} without a login`,
};
