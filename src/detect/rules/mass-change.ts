// mass_change: an UPDATE or DELETE without a WHERE clause, a TRUNCATE, or many rows changed at once.
import { z } from 'zod';
import { plural, who, type BuiltinRule } from './rule.ts';

export const massChange: BuiltinRule = {
  id: 'mass_change',
  title: 'an UPDATE or DELETE without WHERE, a TRUNCATE, or an UPDATE/DELETE of rows or more rows (pgaudit.log_rows)',
  severity: 'high',
  type: 'match',
  params: {
    rows: z.number().int().min(1).default(10_000),
  },
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1485', 'T1565.001'],
  compliance: {
    pci_dss: ['10.2.1.1', '10.2.1.7'],
    hipaa: ['164.312(c)(1)'],
    gdpr: ['Art. 5(1)(f)', 'Art. 32(1)(c)'],
    nist_800_53: ['SI-7', 'AU-6', 'CP-9'],
  },
  build: (p) => ({
    match: [{ signals: ['unbounded_change'] }, { classes: ['WRITE'], commands: ['UPDATE', 'DELETE'], min_rows: p.rows as number }],
    group_by: ['user', 'database'],
  }),
  summary: (i) => `${who(i.user)} changed whole tables or many rows in ${who(i.database)} (${plural(i.count, 'statement')})`,
};
