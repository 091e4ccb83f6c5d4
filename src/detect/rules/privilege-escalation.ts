// privilege_escalation: a role given SUPERUSER, CREATEROLE, BYPASSRLS, REPLICATION or a server-access role.
import { globs } from '../schema.ts';
import { plural, who, type BuiltinRule } from './rule.ts';

export const privilegeEscalation: BuiltinRule = {
  id: 'privilege_escalation',
  title: 'CREATE/ALTER ROLE giving SUPERUSER, CREATEROLE, BYPASSRLS or REPLICATION, or GRANT of pg_execute_server_program, pg_read_server_files, pg_write_server_files',
  severity: 'critical',
  type: 'match',
  params: {
    grants: globs.default(['SUPERUSER', 'CREATEROLE', 'BYPASSRLS', 'REPLICATION', 'pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files']),
  },
  actions: ['terminate', 'lock_role', 'block_client'],
  mitre: ['T1098', 'T1078'],
  compliance: {
    pci_dss: ['10.2.1.5', '7.2.1', '7.2.2'],
    hipaa: ['164.308(a)(4)(ii)(C)', '164.312(b)'],
    gdpr: ['Art. 32'],
    nist_800_53: ['AC-2(4)', 'AC-6', 'AU-12'],
  },
  build: (p) => ({ match: [{ grants: p.grants as string[] }], group_by: ['user'] }),
  summary: (i) => `${who(i.user)} gave roles powerful privileges (${plural(i.count, 'statement')})`,
};
