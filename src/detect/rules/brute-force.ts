// brute_force: failed logins for one role from one client, many within a short window.
import { z } from 'zod';
import { durationMs, positiveDuration, threshold } from '../schema.ts';
import { FIELDS } from '../types.ts';
import { FAILED_LOGIN_ACTIONS_NOTE, plural, who, type BuiltinRule } from './rule.ts';

export const bruteForce: BuiltinRule = {
  id: 'brute_force',
  title: 'failed logins for one role from one client, threshold or more within the window',
  severity: 'high',
  type: 'threshold',
  params: {
    threshold: threshold(5),
    window: positiveDuration.default('5m'),
    group_by: z.array(z.enum(FIELDS)).min(1).max(6).default(['user', 'client_addr']),
  },
  actions: ['block_client'],
  actionsNote: FAILED_LOGIN_ACTIONS_NOTE,
  mitre: ['T1110.001'],
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
  }),
  summary: (i, p) => `${plural(i.count, 'failed login')} for ${who(i.user)} from ${who(i.client_addr)} (threshold ${String(p.threshold)} within ${String(p.window)})`,
};
