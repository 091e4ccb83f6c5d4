// guard_refusal_burst: the connection guard refusing one client again and again.
import { z } from 'zod';
import { durationMs, positiveDuration, threshold } from '../schema.ts';
import { FIELDS } from '../types.ts';
import { FAILED_LOGIN_ACTIONS_NOTE, plural, who, type BuiltinRule } from './rule.ts';

export const guardRefusalBurst: BuiltinRule = {
  id: 'guard_refusal_burst',
  title: 'threshold or more connection guard refusals of one client within the window',
  severity: 'medium',
  type: 'threshold',
  params: {
    threshold: threshold(5),
    window: positiveDuration.default('5m'),
    group_by: z.array(z.enum(FIELDS)).min(1).max(6).default(['client_addr']),
  },
  actions: ['block_client'],
  actionsNote: FAILED_LOGIN_ACTIONS_NOTE,
  mitre: ['T1078', 'T1110'],
  compliance: {
    pci_dss: ['10.2.1.4', '10.4.1.1'],
    hipaa: ['164.308(a)(5)(ii)(C)'],
    gdpr: ['Art. 32'],
    nist_800_53: ['AC-3', 'AC-7', 'SI-4'],
  },
  build: (p) => ({
    match: [{ signals: ['guard_refusal'] }],
    group_by: p.group_by as never,
    threshold: p.threshold as number,
    window_ms: durationMs(p.window as string),
  }),
  summary: (i, p) => `${plural(i.count, 'connection')} of ${who(i.client_addr)} refused by the connection guard (threshold ${String(p.threshold)} within ${String(p.window)}; first as ${who(i.user)} with ${JSON.stringify(i.application ?? '')})`,
};
