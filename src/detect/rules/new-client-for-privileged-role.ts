// new_client_for_privileged_role: a privileged role logging in from a network or application never seen for it.
import { z } from 'zod';
import { FIELDS } from '../types.ts';
import { plural, who, type BuiltinRule } from './rule.ts';

export const newClientForPrivilegedRole: BuiltinRule = {
  id: 'new_client_for_privileged_role',
  title: 'a privileged role (superuser, CREATEROLE, BYPASSRLS) logging in from a client network or application not seen for it after detect.learning',
  severity: 'high',
  type: 'first_seen',
  params: {
    key: z.array(z.enum(FIELDS)).min(1).max(6).default(['user', 'client_network', 'application']),
  },
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1078'],
  compliance: {
    pci_dss: ['10.2.1.2', '10.4.1.1'],
    hipaa: ['164.308(a)(5)(ii)(C)'],
    gdpr: ['Art. 32'],
    nist_800_53: ['AC-2(12)', 'SI-4'],
  },
  // Keys are learned from every login, so a role that becomes privileged is not new where it always logged in.
  build: (p) => ({ match: [{ signals: ['login'] }], alert_if: [{ roles: ['privileged'] }], key: p.key as never, group_by: ['user', 'client_network'] }),
  summary: (i) => `privileged role ${who(i.user)} logged in from a new client: ${who(i.client_addr)} with application ${JSON.stringify(i.application ?? '')} (${plural(i.count, 'login')})`,
};
