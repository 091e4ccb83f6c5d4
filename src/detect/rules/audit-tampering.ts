// audit_tampering: changing what is logged or audited, and pgwarden's own tamper findings.
import { globs } from '../schema.ts';
import { plural, who, type BuiltinRule } from './rule.ts';

export const auditTampering: BuiltinRule = {
  id: 'audit_tampering',
  title: 'SET/ALTER SYSTEM/ALTER ROLE … SET of logging or pgAudit settings, event triggers disabled or dropped, pgwarden tamper findings',
  severity: 'critical',
  type: 'match',
  params: {
    settings: globs.default(['pgaudit.*', 'log_*', 'logging_collector', 'shared_preload_libraries', 'session_preload_libraries',
      'local_preload_libraries', 'session_replication_role', 'event_triggers']),
  },
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1562.001', 'T1070'],
  compliance: {
    pci_dss: ['10.2.1.6', '10.3.2', '10.7.2'],
    hipaa: ['164.312(b)', '164.308(a)(1)(ii)(D)'],
    gdpr: ['Art. 5(2)', 'Art. 32'],
    nist_800_53: ['AU-9', 'AU-5', 'AU-6', 'SI-7'],
  },
  build: (p) => ({
    match: [{ settings: p.settings as string[] }, { signals: ['event_trigger_disabled'] }, { signals: ['tamper'] }],
    group_by: ['user'],
  }),
  summary: (i) => `${i.user === null ? 'the server or pgwarden\'s sensors' : who(i.user)}: auditing or logging changed (${plural(i.count, 'record')})`,
};
