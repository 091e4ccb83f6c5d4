// unknown_role_probe: logins as roles that do not exist, several names from one client.
import { z } from 'zod';
import { durationMs, positiveDuration, threshold } from '../schema.ts';
import { FIELDS } from '../types.ts';
import { FAILED_LOGIN_ACTIONS_NOTE, plural, who, type BuiltinRule } from './rule.ts';

export const unknownRoleProbe: BuiltinRule = {
  id: 'unknown_role_probe',
  title: 'logins as threshold or more different roles that do not exist, from one client within the window',
  severity: 'medium',
  type: 'threshold',
  params: {
    threshold: threshold(3),
    window: positiveDuration.default('10m'),
    group_by: z.array(z.enum(FIELDS)).min(1).max(6).default(['client_addr']),
  },
  actions: ['block_client'],
  actionsNote: FAILED_LOGIN_ACTIONS_NOTE,
  mitre: ['T1087', 'T1110'],
  compliance: {
    pci_dss: ['10.2.1.4', '10.4.1.1'],
    hipaa: ['164.308(a)(5)(ii)(C)'],
    gdpr: ['Art. 32(1)(b)'],
    nist_800_53: ['AC-7', 'SI-4'],
  },
  build: (p) => ({
    match: [{ signals: ['unknown_role'] }],
    group_by: p.group_by as never,
    threshold: p.threshold as number,
    window_ms: durationMs(p.window as string),
    distinct: 'user',
  }),
  summary: (i, p) => `logins as ${plural(i.distinct.length, 'role')} that do not exist from ${who(i.client_addr)} (${i.distinct.slice(0, 10).join(', ')}${i.distinct.length > 10 ? ', …' : ''}; `
    + `threshold ${String(p.threshold)} within ${String(p.window)})`,
};
