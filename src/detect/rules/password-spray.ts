// password_spray: failed logins for many different roles from one client.
import { z } from 'zod';
import { durationMs, positiveDuration, threshold } from '../schema.ts';
import { FIELDS } from '../types.ts';
import { FAILED_LOGIN_ACTIONS_NOTE, plural, who, type BuiltinRule } from './rule.ts';

export const passwordSpray: BuiltinRule = {
  id: 'password_spray',
  title: 'failed logins for threshold or more different roles from one client within the window',
  severity: 'high',
  type: 'threshold',
  params: {
    threshold: threshold(5),
    window: positiveDuration.default('10m'),
    group_by: z.array(z.enum(FIELDS)).min(1).max(6).default(['client_addr']),
  },
  actions: ['block_client'],
  actionsNote: FAILED_LOGIN_ACTIONS_NOTE,
  mitre: ['T1110.003'],
  compliance: {
    pci_dss: ['8.3.4', '10.2.1.4', '10.4.1.1'],
    hipaa: ['164.308(a)(5)(ii)(C)', '164.308(a)(1)(ii)(D)'],
    gdpr: ['Art. 32(1)(b)', 'Art. 33'],
    nist_800_53: ['AC-7', 'SI-4', 'AU-6'],
  },
  build: (p) => ({
    match: [{ signals: ['login_failed'] }],
    group_by: p.group_by as never,
    threshold: p.threshold as number,
    window_ms: durationMs(p.window as string),
    distinct: 'user',
  }),
  summary: (i, p) => `failed logins for ${plural(i.distinct.length, 'role')} from ${who(i.client_addr)} (${i.distinct.slice(0, 10).join(', ')}${i.distinct.length > 10 ? ', …' : ''}; `
    + `threshold ${String(p.threshold)} within ${String(p.window)}; ${plural(i.count, 'attempt')})`,
};
